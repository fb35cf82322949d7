package io.mla4j.cli;

import io.mla4j.DType;
import io.mla4j.Geometry;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Command-line options of the main job; every grid value can be a comma list, and a grid option given
 * again adds to its list ({@code --hq 16 --hq 128} = {@code --hq 16,128}); a single-valued option given
 * twice is an error rather than a silent override.
 */
final class Options {
    static final List<String> FORMATS = List.of("table", "md", "csv", "json", "jsonl");
    List<Integer> batch = List.of(8);
    List<Integer> seqlen = List.of(4096);
    List<Integer> heads = List.of(16);
    List<Integer> queryLen = List.of(1);
    List<DType> dtypes = List.of(DType.BF16);
    List<Integer> pages = List.of(Geometry.DEEPSEEK.pageSize());
    List<int[]> dims = List.<int[]>of(new int[] {Geometry.DEEPSEEK.dC(), Geometry.DEEPSEEK.dR()});
    List<io.mla4j.CacheFormat> caches = List.of(io.mla4j.CacheFormat.PLAIN);
    boolean causal = true;
    boolean varlen = false;
    String backend = null;
    int iters = 20;
    int warmup = 3;
    int checkSeqs = 2;
    long seed = System.nanoTime();
    String format = "table";
    boolean help, version, listBackends, conformance;
    /** grid options seen so far: the first occurrence replaces the default, later ones append */
    private final Set<String> gridSeen = new HashSet<>();
    /** single-valued options seen so far */
    private final Set<String> scalarSeen = new HashSet<>();

    static final String USAGE = """
            usage: mla4j [options]
              Runs MLA decode on a DeepSeek-V3-shaped workload (latent 512 + rope 64, 64-token pages, unless
              --page / --dims say otherwise),
              checks sampled rows against the fp64 oracle, and prints time, GB/s, TFLOP/s and error.
              Values may be comma lists (e.g. --hq 16,128) to run a grid; repeating one adds to it
              (--hq 16 --hq 128 is the same grid).

              -b, --batch N        sequences per batch            (default 8)
              -k, --sk N           cached tokens per sequence      (default 4096)
                  --varlen         draw each s_k ~ N(sk, sk/2), clipped to [s_q, 2*sk] (FlashMLA's varlen)
                  --hq N           query heads h_q                 (default 16: DeepSeek-V3's 128 heads over TP8)
                  --sq N           query tokens per sequence s_q   (default 1; 2 = one MTP draft token)
                  --dtype T        bf16 | fp16                     (default bf16)
                  --page N         tokens per cache page: a power of two, 1 to 256 (default 64)
                  --dims C+R       latent + RoPE widths d_c+d_r, multiples of 16 (default 512+64; e.g. 256+32)
                  --cache F        cache format: bf16 (the dtype's own; default), fp8 (e4m3, per-tensor scale: 1 byte
                                   a value) or fp8ds (DeepSeek-V3.2: e4m3 latent, a scale per 128, bf16 RoPE)
                  --no-causal      disable the bottom-right causal mask (only matters for s_q > 1)
                  --backend NAME   force a backend (default: best available; see --list-backends)
                  --iters N        timed calls per config          (default 20; min, median, p90, stddev reported)
                  --warmup N       untimed calls first (default 3; continued to 2 s so the JIT has compiled the hot loops)
                  --check N        sequences checked against the fp64 oracle (default 2; 0 = skip)
                  --seed N         input seed (default: fresh each run)
                  --format F       table | md | csv | json | jsonl (default table); csv/json/jsonl share one
                                   schema (io.mla4j.spi.BenchSchema) with the GPU bench, provenance in every row;
                                   also applies to --list-backends and --conformance
                  --list-backends  list backends and whether each can run here
                  --conformance    run the full conformance matrix on the backend instead
                  --version        the mla4j version and git commit
              -h, --help           this text
            Environment: MLA4J_BACKEND or -Dmla4j.backend=NAME also force a backend. Without a forced backend,
            each geometry runs on the best backend that takes it (cuda: 512+64 only, any page size).
            """;

    static Options parse(String[] args) {
        Options o = new Options();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "-h", "--help" -> o.help = true;
                case "--version" -> o.version = true;
                case "--list-backends" -> o.listBackends = true;
                case "--conformance" -> o.conformance = true;
                case "--varlen" -> o.varlen = true;
                case "--no-causal" -> o.causal = false;
                case "--causal" -> o.causal = true;
                case "-b", "--batch" -> o.batch = o.grid("--batch", o.batch, ints(a, value(args, ++i, a), 1, 1 << 16));
                case "-k", "--sk" -> o.seqlen = o.grid("--sk", o.seqlen, ints(a, value(args, ++i, a), 0, 1 << 24));
                case "--hq" -> o.heads = o.grid("--hq", o.heads, ints(a, value(args, ++i, a), 1, 1024));
                case "--sq" -> o.queryLen = o.grid("--sq", o.queryLen, ints(a, value(args, ++i, a), 1, 64));
                case "--dtype" -> {
                    List<DType> l = new ArrayList<>();
                    for (String s : value(args, ++i, a).split(",")) {
                        DType d;
                        try {
                            d = DType.parse(s.trim());
                        } catch (IllegalArgumentException e) {
                            throw new UsageException("--dtype: " + e.getMessage());
                        }
                        if (!d.isDecodeType()) throw new UsageException("--dtype: " + s + " is not a decode dtype (bf16, fp16)");
                        l.add(d);
                    }
                    o.dtypes = o.grid("--dtype", o.dtypes, l);
                }
                case "--page" -> o.pages = o.grid("--page", o.pages, pages(a, value(args, ++i, a)));
                case "--dims" -> o.dims = o.grid("--dims", o.dims, dims(a, value(args, ++i, a)));
                case "--cache" -> {
                    List<io.mla4j.CacheFormat> l = new ArrayList<>();
                    for (String s : value(args, ++i, a).split(",")) {
                        try {
                            l.add(io.mla4j.CacheFormat.parse(s));
                        } catch (IllegalArgumentException e) {
                            throw new UsageException("--cache: " + e.getMessage());
                        }
                    }
                    o.caches = o.grid("--cache", o.caches, l);
                }
                case "--backend" -> o.backend = o.scalar(a, value(args, ++i, a));
                case "--iters" -> o.iters = o.scalar(a, one(a, ints(a, value(args, ++i, a), 1, 1_000_000)));
                case "--warmup" -> o.warmup = o.scalar(a, one(a, ints(a, value(args, ++i, a), 0, 1_000_000)));
                case "--check" -> o.checkSeqs = o.scalar(a, one(a, ints(a, value(args, ++i, a), 0, 1 << 16)));
                case "--seed" -> {
                    o.scalar(a, "");
                    try {
                        o.seed = Long.parseLong(value(args, ++i, a));
                    } catch (NumberFormatException e) {
                        throw new UsageException("--seed: not a number: " + args[i]);
                    }
                }
                case "--format" -> {
                    o.format = o.scalar(a, value(args, ++i, a));
                    if (!FORMATS.contains(o.format)) {
                        throw new UsageException("--format: '" + o.format + "' is not one of " + String.join(", ", FORMATS));
                    }
                }
                default -> throw new UsageException("unknown option '" + a + "' (see --help)");
            }
        }
        return o;
    }

    /** A grid option: its first use replaces the default, later uses append (duplicates dropped, order kept). */
    private <T> List<T> grid(String opt, List<T> current, List<T> values) {
        List<T> base = gridSeen.add(opt) ? List.of() : current;
        return List.copyOf(new LinkedHashSet<>(concat(base, values)));
    }

    private static <T> List<T> concat(List<T> a, List<T> b) {
        List<T> l = new ArrayList<>(a);
        l.addAll(b);
        return l;
    }

    /** A single-valued option: a second use is an error (it would silently replace the first). */
    private <T> T scalar(String opt, T v) {
        if (!scalarSeen.add(opt)) throw new UsageException(opt + " given twice (it takes one value)");
        return v;
    }

    private static int one(String opt, List<Integer> l) {
        if (l.size() != 1) throw new UsageException(opt + " takes one value, not a list");
        return l.get(0);
    }

    private static String value(String[] args, int i, String opt) {
        if (i >= args.length) throw new UsageException(opt + " needs a value");
        return args[i];
    }

    private static List<Integer> ints(String opt, String v, int min, int max) {
        List<Integer> out = new ArrayList<>();
        for (String s : v.split(",")) {
            int n;
            try {
                n = Integer.parseInt(s.trim());
            } catch (NumberFormatException e) {
                throw new UsageException(opt + ": '" + s + "' is not an integer");
            }
            if (n < min || n > max) throw new UsageException(opt + ": " + n + " is outside [" + min + ", " + max + "]");
            out.add(n);
        }
        return out;
    }

    private static List<Integer> pages(String opt, String v) {
        List<Integer> l = ints(opt, v, 1, Geometry.MAX_PAGE_SIZE);
        for (int p : l) if (Integer.bitCount(p) != 1) throw new UsageException(opt + ": " + p + " is not a power of two");
        return l;
    }

    /** "512+64,256+32": each a valid width pair (Geometry's rules, checked at 64-token pages). */
    private static List<int[]> dims(String opt, String v) {
        List<int[]> out = new ArrayList<>();
        for (String s : v.split(",")) {
            String[] parts = s.trim().split("\\+");
            if (parts.length != 2) throw new UsageException(opt + ": '" + s + "' is not d_c+d_r (e.g. 512+64)");
            int[] w = new int[2];
            for (int k = 0; k < 2; k++) {
                try {
                    w[k] = Integer.parseInt(parts[k].trim());
                } catch (NumberFormatException e) {
                    throw new UsageException(opt + ": '" + s + "' is not d_c+d_r (e.g. 512+64)");
                }
            }
            try {
                new Geometry(Geometry.DEEPSEEK.pageSize(), w[0], w[1]);
            } catch (IllegalArgumentException e) {
                throw new UsageException(opt + ": " + s + ": " + e.getMessage());
            }
            if (out.stream().noneMatch(x -> x[0] == w[0] && x[1] == w[1])) out.add(w);
        }
        return out;
    }

    /** A bad command line: printed with the usage hint, exit code 2. */
    static final class UsageException extends RuntimeException {
        UsageException(String m) { super(m); }
    }
}
