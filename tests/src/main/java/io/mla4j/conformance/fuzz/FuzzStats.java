package io.mla4j.conformance.fuzz;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;

/** What a fuzz run saw: API calls, cases per class, and every failure by kind (kept to a few examples each). */
public final class FuzzStats {
    /** Kinds of failure. silent-wrong is the one that matters most: a valid step answered wrongly without an error. */
    public enum Kind { SILENT_WRONG, MISUSE_ACCEPTED, BAD_ERROR, UNEXPECTED, MEMORY }

    final AtomicLong calls = new AtomicLong();
    final Map<String, Long> cases = new TreeMap<>();
    final Map<Kind, Long> failures = new TreeMap<>();
    final List<String> examples = new ArrayList<>();
    long hangs, crashes;
    String memory = "n/a";

    synchronized void cas(String cls) { cases.merge(cls, 1L, Long::sum); }

    /** Steps a backend refused up front by checkSupported (a geometry it does not take): counted, not run. */
    long refused;

    synchronized void refuse() { refused++; }

    final Map<String, Long> nanos = new TreeMap<>();

    synchronized void time(String cls, long ns) { nanos.merge(cls, ns, Long::sum); }

    /** "class:cases:ms" for every class, slowest first (where the time went). */
    synchronized String timing() {
        StringBuilder sb = new StringBuilder();
        nanos.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue(), a.getValue()))
                .forEach(e -> sb.append(e.getKey()).append(':').append(cases.getOrDefault(e.getKey(), 0L)).append(':')
                        .append(e.getValue() / 1_000_000).append("ms "));
        return sb.toString().trim();
    }

    synchronized void fail(Kind kind, String cls, String detail) {
        failures.merge(kind, 1L, Long::sum);
        if (examples.size() < 40) examples.add(kind + " [" + cls + "] " + detail);
    }

    long failures(Kind k) { return failures.getOrDefault(k, 0L); }

    /** silent-wrong + misuse-accepted + bad-error + unexpected: every result or error that is not what the contract says. */
    long wrong() {
        return failures(Kind.SILENT_WRONG) + failures(Kind.MISUSE_ACCEPTED) + failures(Kind.BAD_ERROR) + failures(Kind.UNEXPECTED);
    }

    long totalCases() { return cases.values().stream().mapToLong(Long::longValue).sum(); }

    boolean ok() { return wrong() == 0 && hangs == 0 && crashes == 0 && failures(Kind.MEMORY) == 0; }

    /** The one-line summary (parsed back by the long mode's parent: keep it key=value). */
    String summary(String backend, String mode, long seed, double seconds) {
        return String.format("FUZZ backend=%s mode=%s seed=%d calls=%d cases=%d classes=%d crashes=%d hangs=%d wrong=%d"
                        + " refused=%d silent-wrong=%d misuse-accepted=%d bad-errors=%d unexpected=%d memory-failures=%d"
                        + " memory=%s seconds=%.1f result=%s",
                backend, mode, seed, calls.get(), totalCases(), cases.size(), crashes, hangs, wrong(), refused,
                failures(Kind.SILENT_WRONG), failures(Kind.MISUSE_ACCEPTED), failures(Kind.BAD_ERROR), failures(Kind.UNEXPECTED),
                failures(Kind.MEMORY), memory, seconds, ok() ? "PASS" : "FAIL");
    }
}
