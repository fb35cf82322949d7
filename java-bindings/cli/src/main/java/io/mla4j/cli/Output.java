package io.mla4j.cli;

import java.util.List;
import java.util.Locale;

/** Renders result rows as an aligned table, Markdown, CSV or JSON. */
final class Output {
    private Output() {}

    private static final String[] HEAD = {"backend", "dtype", "b", "s_k(mean)", "h_q", "s_q", "causal", "us/call",
            "GB/s", "TFLOP/s", "o relL2", "x rounding", "lse maxAbs", "check"};

    static void print(String format, List<Main.Row> rows) {
        switch (format) {
            case "csv" -> {
                System.out.println(String.join(",", HEAD).replace(" ", "_").replace("(mean)", "_mean").replace("/", "_per_"));
                for (Main.Row r : rows) System.out.println(String.join(",", cells(r)));
            }
            case "json" -> {
                System.out.println("[");
                for (int i = 0; i < rows.size(); i++) {
                    Main.Row r = rows.get(i);
                    System.out.printf(Locale.ROOT, "  {\"backend\": \"%s\", \"dtype\": \"%s\", \"b\": %d, \"sk_mean\": %d, \"hq\": %d, \"sq\": %d, "
                                    + "\"causal\": %s, \"us_per_call\": %.3f, \"gb_per_s\": %.3f, \"tflop_per_s\": %.5f, \"o_rel_l2\": %s, "
                                    + "\"rounding_rel_l2\": %s, \"lse_max_abs\": %s, \"check\": \"%s\"}%s%n",
                            r.backend(), r.dtype(), r.b(), r.meanSk(), r.hq(), r.sq(), r.causal(), r.medianUs(), r.gbps(), r.tflops(),
                            num(r.relL2()), num(r.roundingRelL2()), num(r.lseMaxAbs()), verdict(r), i + 1 < rows.size() ? "," : "");
                }
                System.out.println("]");
            }
            case "md" -> {
                System.out.println("| " + String.join(" | ", HEAD) + " |");
                System.out.println("|" + "---|".repeat(HEAD.length));
                for (Main.Row r : rows) System.out.println("| " + String.join(" | ", cells(r)) + " |");
            }
            default -> table(rows);
        }
    }

    private static void table(List<Main.Row> rows) {
        int[] w = new int[HEAD.length];
        for (int i = 0; i < HEAD.length; i++) w[i] = HEAD[i].length();
        for (Main.Row r : rows) {
            String[] c = cells(r);
            for (int i = 0; i < c.length; i++) w[i] = Math.max(w[i], c[i].length());
        }
        StringBuilder sep = new StringBuilder("+");
        for (int x : w) sep.append("-".repeat(x + 2)).append('+');
        System.out.println(sep);
        System.out.println(line(HEAD, w));
        System.out.println(sep);
        for (Main.Row r : rows) System.out.println(line(cells(r), w));
        System.out.println(sep);
        System.out.println("GB/s and TFLOP/s count as FlashMLA does: bytes = 2*(sum(s_k)*576 + b*s_q*h_q*(576+512)),"
                + " FLOPs = 2*s_q*sum(s_k)*h_q*(576+512). check: sampled sequences vs the fp64 oracle,"
                + " pass when o relL2 <= 3 x the dtype's own rounding error and lse within 2e-3.");
    }

    private static String line(String[] c, int[] w) {
        StringBuilder sb = new StringBuilder("|");
        for (int i = 0; i < c.length; i++) sb.append(' ').append(pad(c[i], w[i], i >= 2 && i != 6 && i != 13)).append(" |");
        return sb.toString();
    }

    private static String pad(String s, int w, boolean right) {
        String sp = " ".repeat(w - s.length());
        return right ? sp + s : s + sp;
    }

    private static String[] cells(Main.Row r) {
        return new String[] {r.backend(), r.dtype().name().toLowerCase(Locale.ROOT), Integer.toString(r.b()), Integer.toString(r.meanSk()),
                Integer.toString(r.hq()), Integer.toString(r.sq()), r.causal() ? "yes" : "no",
                String.format(Locale.ROOT, "%.1f", r.medianUs()), String.format(Locale.ROOT, "%.2f", r.gbps()),
                String.format(Locale.ROOT, "%.4f", r.tflops()), r.checked() ? String.format(Locale.ROOT, "%.2e", r.relL2()) : "-",
                r.checked() ? String.format(Locale.ROOT, "%.2f", r.relL2() / r.roundingRelL2()) : "-",
                r.checked() ? String.format(Locale.ROOT, "%.1e", r.lseMaxAbs()) : "-", verdict(r)};
    }

    private static String verdict(Main.Row r) {
        return !r.checked() ? "skipped" : r.pass() ? "pass" : "FAIL";
    }

    private static String num(double v) {
        return Double.isNaN(v) ? "null" : String.format(Locale.ROOT, "%.4e", v);
    }
}
