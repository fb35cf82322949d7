package io.mla4j.conformance.fuzz;

import io.mla4j.MlaBackend;
import io.mla4j.MlaBackends;
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

/**
 * The fuzz suite outside JUnit (CI runs its short profile as {@code FuzzCiTest}). One backend, one seed:
 * <pre>
 *   java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp CP \
 *        io.mla4j.conformance.fuzz.FuzzMain --backend cuda --calls 20000 --seed 1
 *   ... FuzzMain --backend cuda --cycles 10000      device memory back to its baseline after N cycles
 *   ... FuzzMain --backend cpu --soak 600           a mixed stream for 600 s, sampled against the oracle
 *   ... FuzzMain --long --calls 100000 --children 48 --backends cpu,reference,ascend   child JVMs: crashes counted
 * </pre>
 * Every mode ends with one line {@code FUZZ backend=... calls=... classes=... crashes=... hangs=... wrong=...
 * memory=... result=PASS|FAIL}; the exit status is 0 on PASS, 1 on FAIL, 3 on a hang.
 */
public final class FuzzMain {
    private FuzzMain() {}

    static final String USAGE = "usage: FuzzMain [--backend NAME] [--seed N] [--calls N] [--cycles N] [--soak SECONDS]"
            + " [--hang-seconds S] [--ci] | --long [--calls N] [--children K] [--parallel P] [--backends a,b,c] [--seed N]";

    public static void main(String[] args) throws Exception {
        String backend = null, backends = "cpu,reference,ascend";
        long seed = 1, calls = 0, cycles = 0;
        double soak = 0, hangSeconds = 300;
        boolean longMode = false, ci = false;
        int children = 48, parallel = 1;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--backend" -> backend = args[++i];
                case "--seed" -> seed = Long.parseLong(args[++i]);
                case "--calls" -> calls = Long.parseLong(args[++i]);
                case "--cycles" -> cycles = Long.parseLong(args[++i]);
                case "--soak" -> soak = Double.parseDouble(args[++i]);
                case "--hang-seconds" -> hangSeconds = Double.parseDouble(args[++i]);
                case "--long" -> longMode = true;
                case "--ci" -> ci = true;
                case "--children" -> children = Integer.parseInt(args[++i]);
                case "--parallel" -> parallel = Integer.parseInt(args[++i]);
                case "--backends" -> backends = args[++i];
                case "-h", "--help" -> { System.out.println(USAGE); return; }
                default -> { System.err.println("unknown option " + args[i] + "\n" + USAGE); System.exit(2); }
            }
        }
        if (longMode) {
            System.exit(longRun(calls == 0 ? 100_000 : calls, children, parallel, backends.split(","), seed));
        }
        if (calls == 0 && cycles == 0 && soak == 0) calls = 2000;
        System.exit(single(backend, seed, calls, cycles, soak, hangSeconds, ci));
    }

    /** One backend in this JVM: the fuzz mix, then --cycles, then --soak, as asked. Returns the exit status. */
    static int single(String name, long seed, long calls, long cycles, double soak, double hangSeconds, boolean ci) throws Exception {
        FuzzStats stats = new FuzzStats();
        long t0 = System.nanoTime();
        String which = name == null ? "best" : name;
        MlaBackend be;
        try {
            be = name == null ? MlaBackends.open() : MlaBackends.open(name);
        } catch (RuntimeException e) {
            System.out.println("FUZZ backend=" + which + " skipped: cannot open it here: " + e.getMessage());
            return 0;
        }
        String mode = (calls > 0 ? "fuzz" : "") + (cycles > 0 ? "+cycles" : "") + (soak > 0 ? "+soak" : "");
        System.out.println("fuzz: backend " + be.name() + " (" + be.description() + "), seed " + seed + ", mode " + mode);
        List<String> notes = new ArrayList<>();
        try (be; Fuzzer f = new Fuzzer(be, () -> MlaBackends.open(be.name()), stats, seed, ci)) {
            Thread watchdog = watchdog(f, stats, be.name(), mode, seed, t0, hangSeconds);
            watchdog.start();
            if (calls > 0) {
                long[] m0 = f.memoryNow();
                f.run(calls, 0);
                notes.add(f.memoryReport(m0, f.memoryNow()));
            }
            if (cycles > 0) notes.add(f.cycles((int) cycles));
            if (soak > 0) notes.add(f.soak(soak));
            watchdog.interrupt();
        }
        stats.memory = String.join(";", notes).replace(' ', '_');
        for (String e : stats.examples) System.out.println("  " + e);
        System.out.println("FUZZ-TIMING backend=" + which + " " + stats.timing());
        System.out.println("FUZZ-CLASSES backend=" + which + " " + String.join(",", stats.cases.keySet()));
        System.out.println(stats.summary(which, mode, seed, (System.nanoTime() - t0) / 1e9));
        return stats.ok() ? 0 : 1;
    }

    /** A call that makes no progress for {@code hangSeconds} is a hang: print where, the summary, and halt (status 3). */
    private static Thread watchdog(Fuzzer f, FuzzStats stats, String name, String mode, long seed, long t0, double hangSeconds) {
        Thread t = new Thread(() -> {
            try {
                while (true) {
                    Thread.sleep(1000);
                    if ((System.nanoTime() - f.lastProgress) / 1e9 > hangSeconds) {
                        System.out.println("HANG: no progress for " + hangSeconds + " s in " + f.current);
                        Thread.getAllStackTraces().forEach((th, st) -> {
                            if (!th.isDaemon() || th.getName().startsWith("fuzz") || th.getName().startsWith("mla4j")) {
                                System.out.println("  thread " + th.getName());
                                for (StackTraceElement e : st) System.out.println("    at " + e);
                            }
                        });
                        stats.hangs++;
                        System.out.println(stats.summary(name, mode, seed, (System.nanoTime() - t0) / 1e9));
                        System.out.flush();
                        Runtime.getRuntime().halt(3);
                    }
                }
            } catch (InterruptedException e) {
                // done
            }
        }, "fuzz-watchdog");
        t.setDaemon(true);
        return t;
    }

    /**
     * The long mode: {@code children} child JVMs (round-robin over {@code backends}, seeds seed*1000 + i),
     * {@code parallel} at a time, {@code calls} API calls in all. A child that dies without its summary line
     * (signal, JVM crash, exit status other than 0/1) is a crash; one past its time limit is killed and is a hang.
     */
    static int longRun(long calls, int children, int parallel, String[] backends, long seed) throws Exception {
        long t0 = System.nanoTime();
        long per = Math.max(1, calls / children);
        String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
        List<String> base = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-Xss4m", "-Xmx2g", "-XX:+UseSerialGC"));
        System.getProperties().forEach((k, v) -> {
            if (k.toString().startsWith("mla4j.")) base.add("-D" + k + "=" + v);
        });
        base.addAll(List.of("-cp", System.getProperty("java.class.path"), FuzzMain.class.getName()));
        Map<String, long[]> agg = new TreeMap<>(); // backend -> calls, cases, crashes, hangs, wrong, silent, accepted, bad, unexpected, children
        Map<String, TreeSet<String>> classes = new TreeMap<>();
        List<String> memory = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        List<Process> running = new ArrayList<>();
        List<Integer> ids = new ArrayList<>();
        List<StringBuilder> outs = new ArrayList<>();
        List<Long> started = new ArrayList<>();
        int next = 0, done = 0;
        long limitNanos = TimeUnit.SECONDS.toNanos(Math.max(600, per / 20));
        while (done < children) {
            while (running.size() < parallel && next < children) {
                String be = backends[next % backends.length];
                List<String> cmd = new ArrayList<>(base);
                cmd.addAll(List.of("--backend", be, "--calls", Long.toString(per), "--seed", Long.toString(seed * 1000 + next)));
                ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
                Process p = pb.start();
                StringBuilder sb = new StringBuilder();
                Thread reader = new Thread(() -> {
                    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                        String line;
                        while ((line = r.readLine()) != null) synchronized (sb) { sb.append(line).append('\n'); }
                    } catch (Exception e) {
                        // the process ended
                    }
                }, "child-reader");
                reader.setDaemon(true);
                reader.start();
                running.add(p);
                ids.add(next);
                outs.add(sb);
                started.add(System.nanoTime());
                next++;
            }
            for (int i = 0; i < running.size(); i++) {
                Process p = running.get(i);
                boolean timedOut = System.nanoTime() - started.get(i) > limitNanos;
                if (p.isAlive() && !timedOut) continue;
                if (timedOut && p.isAlive()) { p.destroyForcibly(); p.waitFor(); }
                p.waitFor(10, TimeUnit.SECONDS);
                Thread.sleep(200); // let the reader drain
                String out;
                synchronized (outs.get(i)) { out = outs.get(i).toString(); }
                int id = ids.get(i);
                String be = backends[id % backends.length];
                long[] a = agg.computeIfAbsent(be, k -> new long[10]);
                a[9]++;
                Map<String, String> kv = null;
                for (String line : out.split("\n")) {
                    if (line.startsWith("FUZZ backend=") && !line.contains("skipped")) kv = parse(line);
                    if (line.startsWith("FUZZ-CLASSES ")) {
                        String[] parts = line.split(" ");
                        if (parts.length > 2) classes.computeIfAbsent(be, k -> new TreeSet<>()).addAll(List.of(parts[2].split(",")));
                    }
                    if (line.startsWith("  ") && (line.contains("SILENT_WRONG") || line.contains("MISUSE") || line.contains("BAD_ERROR")
                            || line.contains("UNEXPECTED") || line.contains("MEMORY"))) failures.add(be + "#" + id + ": " + line.trim());
                }
                int rc = p.exitValue();
                if (kv != null) {
                    a[0] += Long.parseLong(kv.get("calls"));
                    a[1] += Long.parseLong(kv.get("cases"));
                    a[3] += Long.parseLong(kv.get("hangs"));
                    a[4] += Long.parseLong(kv.get("wrong"));
                    a[5] += Long.parseLong(kv.get("silent-wrong"));
                    a[6] += Long.parseLong(kv.get("misuse-accepted"));
                    a[7] += Long.parseLong(kv.get("bad-errors"));
                    a[8] += Long.parseLong(kv.get("unexpected"));
                    memory.add(be + "#" + id + ":" + kv.get("memory"));
                }
                if (timedOut && (kv == null || Long.parseLong(kv.get("hangs")) == 0)) {
                    a[3]++;
                    failures.add(be + "#" + id + ": HANG (killed after " + limitNanos / 1_000_000_000 + " s)");
                } else if (kv == null || (rc != 0 && rc != 1 && rc != 3)) {
                    a[2]++;
                    failures.add(be + "#" + id + ": CRASH exit " + rc + " (last output: "
                            + out.substring(Math.max(0, out.length() - 400)).replace('\n', '|') + ")");
                }
                System.out.println("child " + id + " " + be + " exit " + rc + ": "
                        + (kv == null ? "no summary" : "calls=" + kv.get("calls") + " wrong=" + kv.get("wrong") + " " + kv.get("result")));
                running.remove(i);
                ids.remove(i);
                outs.remove(i);
                started.remove(i);
                i--;
                done++;
            }
            Thread.sleep(100);
        }
        long total = 0, crashes = 0, hangs = 0, wrong = 0, silent = 0, accepted = 0, bad = 0, unexpected = 0, cases = 0;
        TreeSet<String> allClasses = new TreeSet<>();
        for (var e : agg.entrySet()) {
            long[] a = e.getValue();
            total += a[0]; cases += a[1]; crashes += a[2]; hangs += a[3]; wrong += a[4]; silent += a[5]; accepted += a[6]; bad += a[7]; unexpected += a[8];
            TreeSet<String> c = classes.getOrDefault(e.getKey(), new TreeSet<>());
            allClasses.addAll(c);
            System.out.printf("FUZZ-LONG backend=%s children=%d calls=%d cases=%d classes=%d crashes=%d hangs=%d wrong=%d silent-wrong=%d%n",
                    e.getKey(), a[9], a[0], a[1], c.size(), a[2], a[3], a[4], a[5]);
        }
        for (String f : failures.subList(0, Math.min(40, failures.size()))) System.out.println("  " + f);
        for (String m : memory) System.out.println("  memory " + m);
        boolean ok = crashes == 0 && hangs == 0 && wrong == 0;
        System.out.printf("FUZZ backend=%s mode=long seed=%d children=%d calls=%d cases=%d classes=%d crashes=%d hangs=%d wrong=%d"
                        + " silent-wrong=%d misuse-accepted=%d bad-errors=%d unexpected=%d seconds=%.1f result=%s%n",
                String.join("+", backends), seed, children, total, cases, allClasses.size(), crashes, hangs, wrong, silent, accepted, bad,
                unexpected, (System.nanoTime() - t0) / 1e9, ok ? "PASS" : "FAIL");
        return ok ? 0 : 1;
    }

    static Map<String, String> parse(String line) {
        Map<String, String> kv = new TreeMap<>();
        for (String part : line.split(" ")) {
            int eq = part.indexOf('=');
            if (eq > 0) kv.put(part.substring(0, eq), part.substring(eq + 1));
        }
        return kv;
    }
}
