package io.mla4j.cuda;

import java.util.Locale;

/**
 * Every {@code mla4j.cuda.*} system property, read in this one place. A backend takes a snapshot when it
 * opens (so a bench may set a property and open a second backend); {@code criticalLaunch} is read once,
 * when the driver's launch entry points are first bound. The table of all properties is in docs/DESIGN.md.
 *
 * @param kernel        {@code mla4j.cuda.kernel}: "sm80" or "sm90" forces that decode kernel (no self-check); null: automatic
 * @param fatbin        {@code mla4j.cuda.fatbin}: a kernel image file used instead of the packaged one (its launch
 *                      constants from FILE.properties beside it); null: the packaged image
 * @param baselineFatbin {@code mla4j.cuda.baselineFatbin}: the helper-kernel image file instead of the packaged one
 * @param hostSchedule  {@code mla4j.cuda.schedule=host}: upload the host's SplitSchedule instead of running the GPU scheduler
 * @param selfCheck     {@code mla4j.cuda.selfCheck} (default true): check an automatically chosen sm90 kernel at open
 * @param sm90Clusters  {@code mla4j.cuda.sm90.clusters} (default true): 2-CTA clusters for even tile counts
 * @param pdl           {@code mla4j.cuda.pdl} (default false): programmatic dependent launch of the combine
 * @param criticalLaunch {@code mla4j.cuda.criticalLaunch} (default false): launches as critical FFM downcalls
 */
record CudaOptions(String kernel, String fatbin, String baselineFatbin, boolean hostSchedule, boolean selfCheck,
                   boolean sm90Clusters, boolean pdl, boolean criticalLaunch) {
    static final String KERNEL = "mla4j.cuda.kernel", FATBIN = "mla4j.cuda.fatbin", BASELINE_FATBIN = "mla4j.cuda.baselineFatbin",
            SCHEDULE = "mla4j.cuda.schedule", SELF_CHECK = "mla4j.cuda.selfCheck", SM90_CLUSTERS = "mla4j.cuda.sm90.clusters",
            PDL = "mla4j.cuda.pdl", CRITICAL_LAUNCH = "mla4j.cuda.criticalLaunch";

    static CudaOptions fromSystemProperties() {
        String kernel = System.getProperty(KERNEL);
        kernel = kernel == null || kernel.isBlank() ? null : kernel.trim().toLowerCase(Locale.ROOT);
        return new CudaOptions(kernel, System.getProperty(FATBIN), System.getProperty(BASELINE_FATBIN),
                "host".equals(System.getProperty(SCHEDULE)),
                Boolean.parseBoolean(System.getProperty(SELF_CHECK, "true")),
                !"false".equalsIgnoreCase(System.getProperty(SM90_CLUSTERS)),
                "true".equalsIgnoreCase(System.getProperty(PDL)),
                Boolean.parseBoolean(System.getProperty(CRITICAL_LAUNCH)));
    }

}
