/** mla4j core: the decode API, the split-KV plan, the fp64 oracle and the CPU backends. */
module io.mla4j {
    requires jdk.incubator.vector;
    requires static java.management; // CpuBackend.warmUp reads the JIT's activity where it is there
    exports io.mla4j;
    exports io.mla4j.spi;
    exports io.mla4j.ref;
    exports io.mla4j.cpu;
    uses io.mla4j.spi.MlaBackendProvider;
    provides io.mla4j.spi.MlaBackendProvider with io.mla4j.ref.ReferenceBackend.Provider, io.mla4j.cpu.CpuBackend.Provider;
}
