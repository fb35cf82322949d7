/**
 * mla4j on NVIDIA GPUs: the "cuda" backend. JCuda owns every CUDA resource; FFM downcalls into
 * libcuda.so.1 only for the per-decode calls (io.mla4j.cuda.FfmDriver; docs/CUDA.md).
 * JCuda 12.6.0 ships no module descriptor: it is the automatic module "jcuda" (from its file name), and
 * needs --enable-native-access=jcuda (besides io.mla4j.cuda) on the module path.
 * The cuBLAS bindings (io.mla4j.cuda.cublas) serve only the bench's unfused baseline: not exported.
 */
module io.mla4j.cuda {
    requires transitive io.mla4j;
    requires jcuda;
    exports io.mla4j.cuda;
    provides io.mla4j.spi.MlaBackendProvider with io.mla4j.cuda.CudaBackendProvider;
}
