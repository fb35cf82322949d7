package io.mla4j.spi;

import io.mla4j.BuildInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The one schema of benchmark rows, written by the CLI ({@code mla4j --format csv|json|jsonl}) and the GPU
 * bench (bench.csv, bench.json, bench.jsonl): the same field names, units and values in every format, so a
 * script reads any of them the same way (like llama-bench's output). Every row carries its provenance
 * (mla4j version and commit, device, driver, JDK, threads, seed, timestamp) and the spread of its timings.
 *
 * <p>Formats: csv = a header of {@link #FIELDS}' names then one line per row, empty cell for no value;
 * json = an array of objects; jsonl = one object per line. In json/jsonl, absent values are {@code null},
 * numbers are JSON numbers, booleans JSON booleans. Times are microseconds per decode call; a field's
 * {@link Field#unit()} says its unit. {@link #parse} reads all three back (used by the tests).
 */
public final class BenchSchema {
    /** Written in the {@code schema} field of every row; bumped when a field changes meaning. */
    public static final String ID = "mla4j-bench/1";

    /** The JSON type of a field. */
    public enum Type {
        /** a string */
        STRING,
        /** an integer */
        INT,
        /** a floating-point number */
        NUMBER,
        /** true or false */
        BOOL
    }

    /**
     * One column.
     *
     * @param name the name in csv headers and json keys
     * @param type its type
     * @param unit its unit ("" when none)
     * @param doc what it means
     */
    public record Field(String name, Type type, String unit, String doc) {}

    private static Field f(String n, Type t, String unit, String doc) { return new Field(n, t, unit, doc); }

    /** Every field, in column order. */
    public static final List<Field> FIELDS = List.of(
            f("schema", Type.STRING, "", "schema id, " + ID),
            f("tool", Type.STRING, "", "what wrote the row: cli | gpu-bench"),
            f("mla4j_version", Type.STRING, "", "mla4j version (BuildInfo.version())"),
            f("git_commit", Type.STRING, "", "commit mla4j was built from (BuildInfo.commit())"),
            f("timestamp", Type.STRING, "ISO-8601 UTC", "when the row was measured"),
            f("device", Type.STRING, "", "CPU model for host backends, GPU/NPU name otherwise"),
            f("driver", Type.STRING, "", "device driver version; empty for host backends"),
            f("jdk", Type.STRING, "", "java.vm.vendor and java.runtime.version"),
            f("threads", Type.INT, "", "worker threads of the backend (CPU) or host threads available"),
            f("seed", Type.INT, "", "seed of the inputs"),
            f("backend", Type.STRING, "", "backend name (reference, cpu, cuda, ascend)"),
            f("kernel", Type.STRING, "", "variant inside the backend (cuda: sm80 | sm90; empty when one)"),
            f("dtype", Type.STRING, "", "q / cache / o dtype, lower case: bf16 | fp16"),
            f("b", Type.INT, "sequences", "batch size"),
            f("s_k_mean", Type.INT, "tokens", "mean cached tokens per sequence"),
            f("s_k_sum", Type.INT, "tokens", "cached tokens over the batch"),
            f("h_q", Type.INT, "heads", "query heads"),
            f("s_q", Type.INT, "tokens", "query tokens per sequence"),
            f("page_size", Type.INT, "tokens", "tokens per cache page (io.mla4j.Geometry)"),
            f("d_c", Type.INT, "dims", "latent width: d_v, and the first d_c of d_qk"),
            f("d_r", Type.INT, "dims", "RoPE width: d_qk = d_c + d_r"),
            f("cache", Type.STRING, "", "cache format (io.mla4j.CacheFormat id): plain | fp8_e4m3 | fp8_e4m3_blockscale_rope_bf16"),
            f("causal", Type.BOOL, "", "bottom-right causal mask in effect (s_q > 1)"),
            f("varlen", Type.BOOL, "", "sequence lengths drawn around s_k_mean"),
            f("samples", Type.INT, "", "timed samples the spread is over (one call, or the mean of a batch of calls)"),
            f("us_min", Type.NUMBER, "us", "fastest sample"),
            f("us_median", Type.NUMBER, "us", "median sample: the headline time"),
            f("us_p90", Type.NUMBER, "us", "90th percentile sample"),
            f("us_stddev", Type.NUMBER, "us", "standard deviation of the samples"),
            f("gb_per_s", Type.NUMBER, "GB/s", "bytes / us_median, FlashMLA's counting (Mla.bytes)"),
            f("tflop_per_s", Type.NUMBER, "TFLOP/s", "FLOPs / us_median, FlashMLA's counting (Mla.flops)"),
            f("frac_roofline", Type.NUMBER, "ratio", "roofline floor time / us_median; empty when the ceilings are unknown"),
            f("us_eager", Type.NUMBER, "us", "median per call of eager launches (gpu-bench)"),
            f("us_graph", Type.NUMBER, "us", "median per call replayed from a CUDA graph (gpu-bench)"),
            f("cpu_us_per_call", Type.NUMBER, "us", "host CPU time per eager call (gpu-bench)"),
            f("graph_cpu_us_per_layer", Type.NUMBER, "us", "host CPU time per decode inside a graph launch (gpu-bench)"),
            f("baseline_us", Type.NUMBER, "us", "unfused cuBLAS baseline on the same config (gpu-bench)"),
            f("o_rel_l2", Type.NUMBER, "ratio", "relative L2 error of o vs the fp64 oracle on the checked rows"),
            f("rounding_rel_l2", Type.NUMBER, "ratio", "relative L2 error of merely rounding the oracle's o to dtype"),
            f("o_rel_l2_over_rounding", Type.NUMBER, "ratio", "o_rel_l2 / rounding_rel_l2; pass needs <= 3"),
            f("lse_max_abs", Type.NUMBER, "nats", "max |lse - oracle| on the checked rows"),
            f("check", Type.STRING, "", "pass | FAIL | skipped"),
            f("note", Type.STRING, "", "free text: an error, what was skipped"));

    private static final Map<String, Field> BY_NAME = new LinkedHashMap<>();
    static {
        for (Field x : FIELDS) BY_NAME.put(x.name(), x);
    }

    private BenchSchema() {}

    /** One row: values by field name; unset fields are written empty / null. */
    public static final class Row {
        private final Map<String, Object> values = new LinkedHashMap<>();

        /**
         * Sets a field, checking its name and type (NaN numbers count as absent).
         *
         * @param name a name of {@link #FIELDS}
         * @param value a String, Integer/Long, Double/Float, Boolean, or null
         * @return this row
         */
        public Row set(String name, Object value) {
            Field x = BY_NAME.get(name);
            if (x == null) throw new IllegalArgumentException("no bench field '" + name + "'; fields: " + BY_NAME.keySet());
            // NaN and "" mean "no value": written as an empty cell / null, so every format reads back the same
            if (value instanceof Double d && d.isNaN() || value instanceof Float g && g.isNaN()) value = null;
            if (value instanceof String str && str.isEmpty()) value = null;
            if (value != null) {
                boolean ok = switch (x.type()) {
                    case STRING -> value instanceof String;
                    case INT -> value instanceof Integer || value instanceof Long;
                    case NUMBER -> value instanceof Number;
                    case BOOL -> value instanceof Boolean;
                };
                if (!ok) throw new IllegalArgumentException("bench field '" + name + "' is " + x.type() + ", got " + value.getClass().getSimpleName());
            }
            values.put(name, value);
            return this;
        }

        /**
         * A field's value.
         *
         * @param name a field name
         * @return its value, or null when unset
         */
        public Object get(String name) { return values.get(name); }

        /**
         * Sets the timing fields from samples (microseconds): samples, min, median, p90, stddev.
         *
         * @param us the samples, in any order
         * @return this row
         */
        public Row times(double[] us) {
            double[] s = us.clone();
            Arrays.sort(s);
            int n = s.length;
            double mean = 0, var = 0;
            for (double v : s) mean += v / n;
            for (double v : s) var += (v - mean) * (v - mean);
            return set("samples", n).set("us_min", s[0]).set("us_median", median(s))
                    .set("us_p90", s[Math.min(n - 1, (int) Math.ceil(0.9 * n) - 1)])
                    .set("us_stddev", n > 1 ? Math.sqrt(var / (n - 1)) : 0.0);
        }
    }

    /**
     * A row with the provenance fields filled: schema, tool, version, commit, timestamp, JDK, device, driver,
     * threads, seed.
     *
     * @param tool "cli" or "gpu-bench"
     * @param device the device name ({@link #hostCpu()} for host backends)
     * @param driver the driver version, "" for host backends
     * @param threads worker threads
     * @param seed the input seed
     * @return the new row
     */
    public static Row provenance(String tool, String device, String driver, int threads, long seed) {
        return new Row().set("schema", ID).set("tool", tool).set("mla4j_version", BuildInfo.version())
                .set("git_commit", BuildInfo.commit())
                .set("timestamp", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString())
                .set("device", device).set("driver", driver)
                .set("jdk", System.getProperty("java.vm.vendor", "?") + " " + System.getProperty("java.runtime.version", "?"))
                .set("threads", threads).set("seed", seed);
    }

    /**
     * The median of sorted values.
     *
     * @param sorted values in ascending order
     * @return the middle value (mean of the two middle ones for an even count)
     */
    public static double median(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    }

    /**
     * This machine's CPU: the model name from /proc/cpuinfo, else os.arch.
     *
     * @return e.g. "AMD EPYC 9R45 (x86_64, 2 cpus)"
     */
    public static String hostCpu() {
        String model = null;
        try {
            for (String l : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (l.startsWith("model name")) {
                    model = l.substring(l.indexOf(':') + 1).strip();
                    break;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or not readable: the architecture alone
        }
        String arch = System.getProperty("os.arch") + ", " + Runtime.getRuntime().availableProcessors() + " cpus";
        return model == null ? arch : model + " (" + arch + ")";
    }

    /**
     * The NVIDIA kernel driver's version from /proc/driver/nvidia/version, or "".
     *
     * @return e.g. "580.159.04"
     */
    public static String nvidiaDriver() {
        try {
            String s = Files.readString(Path.of("/proc/driver/nvidia/version"));
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("Kernel Module\\s+([0-9.]+)").matcher(s);
            return m.find() ? m.group(1) : "";
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    // ---- writing ----

    /**
     * The csv header line.
     *
     * @return the field names, comma-separated
     */
    public static String csvHeader() {
        return String.join(",", FIELDS.stream().map(Field::name).toList());
    }

    /**
     * One csv line (no newline): strings quoted when they hold a comma, quote or newline.
     *
     * @param r the row
     * @return the line
     */
    public static String csv(Row r) {
        List<String> cells = new ArrayList<>();
        for (Field x : FIELDS) {
            Object v = r.get(x.name());
            if (v == null) cells.add("");
            else if (x.type() == Type.STRING) cells.add(csvQuote((String) v));
            else cells.add(scalar(x, v));
        }
        return String.join(",", cells);
    }

    /**
     * One JSON object on one line (every field, null when unset).
     *
     * @param r the row
     * @return the object
     */
    public static String json(Row r) {
        StringBuilder sb = new StringBuilder("{");
        for (Field x : FIELDS) {
            if (sb.length() > 1) sb.append(", ");
            sb.append('"').append(x.name()).append("\": ");
            Object v = r.get(x.name());
            if (v == null) sb.append("null");
            else if (x.type() == Type.STRING) sb.append(jsonString((String) v));
            else sb.append(scalar(x, v));
        }
        return sb.append('}').toString();
    }

    /**
     * All rows in one format.
     *
     * @param format csv, json or jsonl
     * @param rows the rows
     * @return the text, ending with a newline
     */
    public static String write(String format, List<Row> rows) {
        StringBuilder sb = new StringBuilder();
        switch (format) {
            case "csv" -> {
                sb.append(csvHeader()).append('\n');
                for (Row r : rows) sb.append(csv(r)).append('\n');
            }
            case "jsonl" -> {
                for (Row r : rows) sb.append(json(r)).append('\n');
            }
            case "json" -> {
                sb.append("[\n");
                for (int i = 0; i < rows.size(); i++) sb.append("  ").append(json(rows.get(i))).append(i + 1 < rows.size() ? ",\n" : "\n");
                sb.append("]\n");
            }
            default -> throw new IllegalArgumentException("bench format '" + format + "' is not csv, json or jsonl");
        }
        return sb.toString();
    }

    /** Numbers in one spelling for every format: integers as such, others with 6 significant digits. */
    private static String scalar(Field x, Object v) {
        return switch (x.type()) {
            case INT -> Long.toString(((Number) v).longValue());
            case BOOL -> v.toString();
            case NUMBER -> {
                double d = ((Number) v).doubleValue();
                if (Double.isInfinite(d)) throw new IllegalArgumentException("bench field '" + x.name() + "' is infinite");
                yield Double.toString(Double.parseDouble(String.format(Locale.ROOT, "%.6g", d)));
            }
            case STRING -> (String) v;
        };
    }

    private static String csvQuote(String s) {
        return s.contains(",") || s.contains("\"") || s.contains("\n") ? '"' + s.replace("\"", "\"\"") + '"' : s;
    }

    private static String jsonString(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\t' -> sb.append("\\t");
                case '\r' -> sb.append("\\r");
                default -> {
                    if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        return sb.append('"').toString();
    }

    // ---- reading (for tests and tools; reads what write() writes) ----

    /**
     * Parses rows written by {@link #write}: values typed by the schema (String, Long, Double, Boolean, or
     * null for absent), keyed by field name in column order. Checks that every field, and no other, is present.
     *
     * @param format csv, json or jsonl
     * @param text the output
     * @return the rows
     */
    public static List<Map<String, Object>> parse(String format, String text) {
        List<Map<String, Object>> out = new ArrayList<>();
        switch (format) {
            case "csv" -> {
                List<List<String>> lines = csvRecords(text);
                if (lines.isEmpty()) throw new IllegalArgumentException("csv: no header");
                List<String> head = lines.get(0);
                checkNames(head);
                for (List<String> cells : lines.subList(1, lines.size())) {
                    if (cells.size() != head.size()) throw new IllegalArgumentException("csv: " + cells.size() + " cells, header has " + head.size());
                    Map<String, Object> m = new LinkedHashMap<>();
                    for (int i = 0; i < head.size(); i++) m.put(head.get(i), typed(BY_NAME.get(head.get(i)), cells.get(i)));
                    out.add(m);
                }
            }
            case "jsonl" -> {
                for (String l : text.split("\n")) if (!l.isBlank()) out.add(new Json(l).object());
            }
            case "json" -> {
                Json j = new Json(text);
                out.addAll(j.array());
            }
            default -> throw new IllegalArgumentException("bench format '" + format + "' is not csv, json or jsonl");
        }
        for (Map<String, Object> m : out) checkNames(new ArrayList<>(m.keySet()));
        return out;
    }

    private static void checkNames(List<String> names) {
        List<String> want = FIELDS.stream().map(Field::name).toList();
        if (!names.equals(want)) throw new IllegalArgumentException("fields " + names + " are not the schema's " + want);
    }

    private static Object typed(Field x, String cell) {
        if (cell.isEmpty() && x.type() != Type.STRING) return null;
        return switch (x.type()) {
            case STRING -> cell.isEmpty() ? null : cell;
            case INT -> Long.parseLong(cell);
            case NUMBER -> Double.parseDouble(cell);
            case BOOL -> {
                if (!cell.equals("true") && !cell.equals("false")) throw new IllegalArgumentException(x.name() + ": not a boolean: " + cell);
                yield Boolean.parseBoolean(cell);
            }
        };
    }

    /** RFC 4180 records: quoted cells may hold commas, doubled quotes and newlines. */
    private static List<List<String>> csvRecords(String text) {
        List<List<String>> recs = new ArrayList<>();
        List<String> cur = new ArrayList<>();
        StringBuilder cell = new StringBuilder();
        boolean quoted = false, any = false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (quoted) {
                if (c == '"' && i + 1 < text.length() && text.charAt(i + 1) == '"') { cell.append('"'); i++; }
                else if (c == '"') quoted = false;
                else cell.append(c);
            } else if (c == '"') { quoted = true; any = true; }
            else if (c == ',') { cur.add(cell.toString()); cell.setLength(0); any = true; }
            else if (c == '\n') {
                if (any || cell.length() > 0) { cur.add(cell.toString()); recs.add(cur); }
                cur = new ArrayList<>(); cell.setLength(0); any = false;
            } else if (c != '\r') { cell.append(c); any = true; }
        }
        if (any || cell.length() > 0) { cur.add(cell.toString()); recs.add(cur); }
        return recs;
    }

    /** A minimal reader of the JSON this class writes: arrays of flat objects of scalars. */
    private static final class Json {
        private final String s;
        private int i;

        Json(String s) { this.s = s; }

        List<Map<String, Object>> array() {
            List<Map<String, Object>> out = new ArrayList<>();
            expect('[');
            if (peek() == ']') { i++; return out; }
            while (true) {
                out.add(object());
                char c = next();
                if (c == ']') return out;
                if (c != ',') throw error("',' or ']'");
            }
        }

        Map<String, Object> object() {
            Map<String, Object> m = new LinkedHashMap<>();
            expect('{');
            if (peek() == '}') { i++; return m; }
            while (true) {
                String k = string();
                expect(':');
                Field x = BY_NAME.get(k);
                if (x == null) throw new IllegalArgumentException("json: unknown field '" + k + "'");
                Object v = value();
                if (v != null) {
                    boolean ok = switch (x.type()) {
                        case STRING -> v instanceof String;
                        case INT -> v instanceof Long;
                        case NUMBER -> v instanceof Number;
                        case BOOL -> v instanceof Boolean;
                    };
                    if (!ok) throw new IllegalArgumentException("json: field '" + k + "' should be " + x.type() + ": " + v);
                    if (x.type() == Type.NUMBER) v = ((Number) v).doubleValue();
                }
                m.put(k, v);
                char c = next();
                if (c == '}') return m;
                if (c != ',') throw error("',' or '}'");
            }
        }

        private Object value() {
            char c = peek();
            if (c == '"') return string();
            if (s.startsWith("null", i)) { i += 4; return null; }
            if (s.startsWith("true", i)) { i += 4; return Boolean.TRUE; }
            if (s.startsWith("false", i)) { i += 5; return Boolean.FALSE; }
            int st = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
            if (st == i) throw error("a value");
            String num = s.substring(st, i);
            // integers stay exact (a seed can exceed a double's 53 bits)
            return num.matches("-?[0-9]+") ? (Object) Long.parseLong(num) : (Object) Double.parseDouble(num);
        }

        private String string() {
            expect('"');
            StringBuilder sb = new StringBuilder();
            while (true) {
                if (i >= s.length()) throw error("end of string");
                char c = s.charAt(i++);
                if (c == '"') return sb.toString();
                if (c != '\\') { sb.append(c); continue; }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n' -> sb.append('\n');
                    case 't' -> sb.append('\t');
                    case 'r' -> sb.append('\r');
                    case 'u' -> { sb.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; }
                    default -> sb.append(e);
                }
            }
        }

        private char peek() {
            while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
            if (i >= s.length()) throw error("more input");
            return s.charAt(i);
        }

        private char next() { char c = peek(); i++; return c; }

        private void expect(char c) { if (next() != c) throw error("'" + c + "'"); }

        private IllegalArgumentException error(String what) {
            return new IllegalArgumentException("json: expected " + what + " at offset " + i);
        }
    }
}
