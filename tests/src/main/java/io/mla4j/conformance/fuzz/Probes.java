package io.mla4j.conformance.fuzz;

import io.mla4j.MlaBackend;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/**
 * Memory probes: the process RSS (/proc/self/status), and device memory through what a backend exposes,
 * found by reflection so this harness compiles against mla4j-core alone: cuda's {@code memoryInfo()}
 * (cuMemGetInfo: free, total) after {@code trimWorkspace()}, and the ACL emulator's live allocation count.
 */
final class Probes {
    private Probes() {}

    /** Resident set size in KiB, or empty where /proc is missing. */
    static OptionalLong rssKiB() {
        try {
            Path status = Path.of("/proc/self/status");
            if (!Files.exists(status)) return OptionalLong.empty();
            for (String line : Files.readAllLines(status)) {
                if (line.startsWith("VmRSS:")) return OptionalLong.of(Long.parseLong(line.replaceAll("[^0-9]", "")));
            }
        } catch (Exception e) {
            return OptionalLong.empty();
        }
        return OptionalLong.empty();
    }

    /** Device memory in use, in the backend's unit ({@link #deviceUnit}); empty for host backends or without a hook. */
    static OptionalLong deviceInUse(MlaBackend be) {
        try {
            if (be.name().equals("cuda")) {
                be.synchronize();
                try {
                    Method trim = be.getClass().getMethod("trimWorkspace");
                    trim.invoke(be);
                } catch (NoSuchMethodException e) {
                    // older backend: measure with the pool as it is
                }
                Method info = be.getClass().getMethod("memoryInfo");
                long[] ft = (long[]) info.invoke(be);
                return OptionalLong.of(ft[1] - ft[0]); // total - free: bytes in use on the device
            }
            if (be.name().equals("ascend")) {
                be.synchronize();
                Class<?> h = Class.forName("io.mla4j.ascend.acl.mla4j_acl_emu_h");
                Method live = h.getMethod("mla4j_acl_emu_live_allocations");
                return OptionalLong.of((Long) live.invoke(null));
            }
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            return OptionalLong.empty();
        }
        return OptionalLong.empty();
    }

    static String deviceUnit(MlaBackend be) {
        return be.name().equals("cuda") ? "bytes" : "allocations";
    }

    /** Why there is no device probe, for the summary. */
    static String noDeviceProbe(MlaBackend be) {
        return be.memory().equals("host") ? "host memory (RSS is the measure)"
                : "no device memory hook on backend " + be.name() + " (cuda: memoryInfo(), ascend emulator: live allocations)";
    }
}
