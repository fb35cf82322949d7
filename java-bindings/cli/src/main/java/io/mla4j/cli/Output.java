package io.mla4j.cli;

import io.mla4j.spi.BenchSchema;
import java.util.List;
import java.util.Locale;

/**
 * Renders bench rows: csv, json and jsonl exactly as {@link BenchSchema} writes them (the schema the GPU
 * bench shares); table and md as a human-sized subset of the same fields. Also renders the plain
 * records of --list-backends and --conformance in every format.
 */
final class Output {
    private Output() {}

    /** The columns a person reads: header, field, right-aligned. */
    private static final String[][] COLS = {
            {"backend", "backend"}, {"kernel", "kernel"}, {"dtype", "dtype"}, {"b", "b"}, {"s_k(mean)", "s_k_mean"}, {"h_q", "h_q"},
            {"s_q", "s_q"}, {"page", "page_size"}, {"d_c", "d_c"}, {"d_r", "d_r"}, {"cache", "cache"}, {"causal", "causal"}, {"us median", "us_median"}, {"us min", "us_min"}, {"us p90", "us_p90"},
            {"GB/s", "gb_per_s"}, {"TFLOP/s", "tflop_per_s"}, {"o relL2", "o_rel_l2"}, {"x rounding", "o_rel_l2_over_rounding"},
            {"lse maxAbs", "lse_max_abs"}, {"check", "check"}};

    static void print(String format, List<BenchSchema.Row> rows) {
        switch (format) {
            case "csv", "json", "jsonl" -> System.out.print(BenchSchema.write(format, rows));
            case "md" -> {
                System.out.println("| " + String.join(" | ", heads()) + " |");
                System.out.println("|" + "---|".repeat(COLS.length));
                for (BenchSchema.Row r : rows) System.out.println("| " + String.join(" | ", cells(r)) + " |");
                if (!rows.isEmpty()) System.out.println("\n" + provenance(rows.get(0)));
            }
            default -> table(rows);
        }
    }

    private static String[] heads() {
        String[] h = new String[COLS.length];
        for (int i = 0; i < COLS.length; i++) h[i] = COLS[i][0];
        return h;
    }

    private static String provenance(BenchSchema.Row r) {
        return r.get("mla4j_version") + " (commit " + r.get("git_commit") + "), " + r.get("device")
                + (r.get("driver") == null ? "" : ", driver " + r.get("driver")) + ", " + r.get("jdk") + ", "
                + r.get("threads") + " threads, " + r.get("samples") + " samples per config, " + r.get("timestamp");
    }

    private static void table(List<BenchSchema.Row> rows) {
        String[] head = heads();
        List<String[]> body = rows.stream().map(Output::cells).toList();
        alignedTable(head, body, true);
        if (!rows.isEmpty()) System.out.println(provenance(rows.get(0)));
        System.out.println("GB/s and TFLOP/s (at the median) count as FlashMLA does: bytes = 2*(sum(s_k)*d_qk + b*s_q*h_q*(d_qk+d_v)),"
                + " an fp8 cache's tokens at their real bytes (576 or 656 for DeepSeek's widths); FLOPs = 2*s_q*sum(s_k)*h_q*(d_qk+d_v), d_qk = d_c+d_r, d_v = d_c (DeepSeek: 576, 512)."
                + " check: sampled sequences vs the fp64 oracle,"
                + " pass when o relL2 <= 3 x the dtype's own rounding error and lse within 2e-3.");
    }

    private static void alignedTable(String[] head, List<String[]> body, boolean numbersRight) {
        int[] w = new int[head.length];
        for (int i = 0; i < head.length; i++) w[i] = head[i].length();
        for (String[] c : body)
            for (int i = 0; i < c.length; i++) w[i] = Math.max(w[i], c[i].length());
        StringBuilder sep = new StringBuilder("+");
        for (int x : w) sep.append("-".repeat(x + 2)).append('+');
        System.out.println(sep);
        System.out.println(line(head, w, false));
        System.out.println(sep);
        for (String[] c : body) System.out.println(line(c, w, numbersRight));
        System.out.println(sep);
    }

    private static String line(String[] c, int[] w, boolean numbersRight) {
        StringBuilder sb = new StringBuilder("|");
        for (int i = 0; i < c.length; i++) {
            boolean right = numbersRight && !c[i].isEmpty() && (Character.isDigit(c[i].charAt(0)) || c[i].equals("-"));
            String sp = " ".repeat(w[i] - c[i].length());
            sb.append(' ').append(right ? sp + c[i] : c[i] + sp).append(" |");
        }
        return sb.toString();
    }

    private static String[] cells(BenchSchema.Row r) {
        String[] c = new String[COLS.length];
        for (int i = 0; i < COLS.length; i++) {
            String f = COLS[i][1];
            Object v = r.get(f);
            c[i] = v == null ? "-" : switch (f) {
                case "us_median", "us_min", "us_p90" -> String.format(Locale.ROOT, "%.1f", (Double) v);
                case "gb_per_s" -> String.format(Locale.ROOT, "%.2f", (Double) v);
                case "tflop_per_s" -> String.format(Locale.ROOT, "%.4f", (Double) v);
                case "o_rel_l2" -> String.format(Locale.ROOT, "%.2e", (Double) v);
                case "o_rel_l2_over_rounding" -> String.format(Locale.ROOT, "%.2f", (Double) v);
                case "lse_max_abs" -> String.format(Locale.ROOT, "%.1e", (Double) v);
                case "causal" -> (Boolean) v ? "yes" : "no";
                default -> v.toString();
            };
        }
        return c;
    }

    // ---- plain records (--list-backends, --conformance) ----

    /** Records of string fields in any format: the same names as keys, header or columns. */
    static void records(String format, List<String> names, List<String[]> recs) {
        switch (format) {
            case "csv" -> {
                System.out.println(String.join(",", names));
                for (String[] r : recs) {
                    StringBuilder sb = new StringBuilder();
                    for (int i = 0; i < r.length; i++) sb.append(i > 0 ? "," : "").append(csv(r[i]));
                    System.out.println(sb);
                }
            }
            case "json", "jsonl" -> {
                boolean array = format.equals("json");
                if (array) System.out.println("[");
                for (int k = 0; k < recs.size(); k++) {
                    String[] r = recs.get(k);
                    StringBuilder sb = new StringBuilder(array ? "  {" : "{");
                    for (int i = 0; i < r.length; i++) {
                        sb.append(i > 0 ? ", " : "").append(json(names.get(i))).append(": ").append(json(r[i]));
                    }
                    sb.append('}').append(array && k + 1 < recs.size() ? "," : "");
                    System.out.println(sb);
                }
                if (array) System.out.println("]");
            }
            case "md" -> {
                System.out.println("| " + String.join(" | ", names) + " |");
                System.out.println("|" + "---|".repeat(names.size()));
                for (String[] r : recs) System.out.println("| " + String.join(" | ", r).replace("\n", " ") + " |");
            }
            default -> alignedTable(names.toArray(String[]::new), recs, false);
        }
    }

    private static String csv(String s) {
        return s.contains(",") || s.contains("\"") || s.contains("\n") ? '"' + s.replace("\"", "\"\"") + '"' : s;
    }

    private static String json(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') sb.append('\\').append(c);
            else if (c == '\n') sb.append("\\n");
            else if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
            else sb.append(c);
        }
        return sb.append('"').toString();
    }
}
