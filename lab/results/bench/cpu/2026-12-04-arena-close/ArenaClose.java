import java.lang.foreign.Arena;

/**
 * What a plan's off-heap arena costs over its life (open, one 256-byte allocation, close), per arena kind: the
 * question behind CudaPlan's arena choice (docs/PERF.md, 2026-12-04 late night). Median and best of 2000 after 1000
 * warm-up iterations, three rounds. java ArenaClose.java
 */
public class ArenaClose {
    interface R { void run(); }

    static String time(R r) {
        long[] t = new long[2000];
        for (int i = 0; i < 3000; i++) {
            long t0 = System.nanoTime();
            r.run();
            long d = System.nanoTime() - t0;
            if (i >= 1000) t[i - 1000] = d;
        }
        java.util.Arrays.sort(t);
        return String.format("median %.2f us, best %.2f us", t[1000] / 1e3, t[0] / 1e3);
    }

    public static void main(String[] a) {
        System.out.println(System.getProperty("java.vm.version") + ", " + Runtime.getRuntime().availableProcessors() + " cpus");
        for (int round = 0; round < 3; round++) {
            System.out.println("shared   open+alloc+close: " + time(() -> { Arena x = Arena.ofShared(); x.allocate(256); x.close(); }));
            System.out.println("confined open+alloc+close: " + time(() -> { Arena x = Arena.ofConfined(); x.allocate(256); x.close(); }));
            System.out.println("auto     open+alloc:       " + time(() -> { Arena x = Arena.ofAuto(); x.allocate(256); }));
        }
    }
}
