package io.mla4j.gpubench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Anchor times another implementation reached on a config (e.g. FlashMLA's best build on the same H200), read from a
 * CSV so that every bench run prints its small-batch rows beside them and beside the floor (issue 21). The packaged
 * {@code anchors.csv} is the default; {@code GpuBench --anchors FILE} reads another. A row applies to a run when its
 * device is a substring of the run's device name: anchors of other machines are never compared.
 */
final class Anchors {
    private Anchors() {}

    /** One anchor: on {@code device}, config (b, s_k, h_q, s_q), {@code name} took {@code us} per decode. */
    record Anchor(String device, int b, int sk, int hq, int sq, String name, double us, String source) {}

    /** A timed config of this run: the input of {@link #table}. */
    record Timed(GpuBench.Config c, String kernel, double us, double floorUs) {}

    static final String RESOURCE = "anchors.csv";

    /** The packaged anchors, or those of {@code file} when given. */
    static List<Anchor> load(Path file) {
        try (InputStream in = file != null ? Files.newInputStream(file) : Anchors.class.getResourceAsStream(RESOURCE)) {
            if (in == null) return List.of();
            return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), file != null ? file.toString() : RESOURCE);
        } catch (IOException e) {
            throw new UncheckedIOException("anchors " + file + ": " + e.getMessage(), e);
        }
    }

    /** CSV lines "device,b,s_k,h_q,s_q,anchor,us,source" after one header line; '#' lines are comments. */
    static List<Anchor> parse(String csv, String where) {
        List<Anchor> out = new ArrayList<>();
        boolean header = true;
        int n = 0;
        try (BufferedReader r = new BufferedReader(new java.io.StringReader(csv))) {
            for (String line; (line = r.readLine()) != null;) {
                n++;
                if (line.isBlank() || line.startsWith("#")) continue;
                if (header) { header = false; continue; }
                String[] f = line.split(",", 8);
                if (f.length != 8) {
                    throw new IllegalArgumentException(where + " line " + n + ": expected 8 fields, got " + f.length);
                }
                try {
                    out.add(new Anchor(f[0].trim(), Integer.parseInt(f[1].trim()), Integer.parseInt(f[2].trim()),
                            Integer.parseInt(f[3].trim()), Integer.parseInt(f[4].trim()), f[5].trim(),
                            Double.parseDouble(f[6].trim()), f[7].trim()));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(where + " line " + n + ": " + e.getMessage());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    /** The anchors for a config on this device, in file order. */
    static List<Anchor> find(List<Anchor> anchors, String device, GpuBench.Config c) {
        String dev = device.toLowerCase(Locale.ROOT);
        return anchors.stream().filter(a -> dev.contains(a.device().toLowerCase(Locale.ROOT)) && a.b() == c.b()
                && a.sk() == c.meanSk() && a.hq() == c.hq() && a.sq() == c.sq()).toList();
    }

    /**
     * The small-batch table (b <= 4): each timed row with the floor (bytes / this run's copy bandwidth) and every anchor
     * for its config on this device, as "x anchor" = anchor us / our us (above 1: faster than the anchor). Empty when
     * no row is small-batch.
     */
    static String table(List<Timed> rows, List<Anchor> anchors, String device) {
        StringBuilder sb = new StringBuilder();
        for (Timed t : rows) {
            if (t.c().b() > 4) continue;
            List<Anchor> as = find(anchors, device, t.c());
            String anchor = as.isEmpty() ? "-" : String.join("; ", as.stream()
                    .map(a -> String.format(Locale.ROOT, "%s %.1f us (%.2fx)", a.name(), a.us(), a.us() / t.us())).toList());
            sb.append(String.format(Locale.ROOT, "%-30s %-12s %9.1f %9.1f %7.2f   %s%n", t.c().label(), t.kernel(), t.us(),
                    t.floorUs(), t.us() / t.floorUs(), anchor));
        }
        if (sb.isEmpty()) return "";
        return String.format(Locale.ROOT, "%-30s %-12s %9s %9s %7s   %s%n", "small batch", "kern", "us", "floor us", "x floor",
                "anchors on this device (x anchor: anchor us / ours)") + sb;
    }
}
