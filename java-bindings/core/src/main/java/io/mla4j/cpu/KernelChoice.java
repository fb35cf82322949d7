package io.mla4j.cpu;

import java.util.Optional;

/** The cpu backend's kernel decision: what was asked for, what runs, and a note on why when they differ. */
record KernelChoice(CpuKernel kernel, NativeKernel.Lib lib, String note, boolean log) {

    static KernelChoice choose(CpuKernel asked, CpuBackend.Rescale rescale) {
        if (asked == CpuKernel.VECTOR) return new KernelChoice(CpuKernel.VECTOR, null, "", false);
        if (rescale == CpuBackend.Rescale.AMLA) {
            return new KernelChoice(CpuKernel.VECTOR, null, asked == CpuKernel.AUTO ? ""
                    : asked.id() + " not used: the native kernel has plain rescaling only", asked != CpuKernel.AUTO);
        }
        Optional<NativeKernel.Lib> lib = NativeKernel.lib();
        if (asked == CpuKernel.AUTO) {
            if (lib.isEmpty()) return new KernelChoice(CpuKernel.VECTOR, null, "no native kernel: " + NativeKernel.failure(), true);
            for (CpuKernel k : new CpuKernel[] {CpuKernel.AMX, CpuKernel.AVX512BF16}) {
                if (lib.get().allows(k)) return new KernelChoice(k, lib.get(), "", true);
            }
            return new KernelChoice(CpuKernel.VECTOR, null, "native kernel loaded, but this CPU has neither ("
                    + lib.get().featureText() + ")", true);
        }
        Optional<String> why = asked.unavailableReason();
        if (why.isPresent()) return new KernelChoice(CpuKernel.VECTOR, null, asked.id() + " asked for but unavailable: " + why.get(), true);
        return new KernelChoice(asked, lib.get(), "", true);
    }
}
