/**
 * mla4j on NVIDIA GPUs: the "cuda" backend (JCuda driver API for the cold path, FFM downcalls into
 * libcuda.so.1 for launches) and the cuBLAS 13 baseline bound through FFM (io.mla4j.cuda.cublas).
 * JCuda 12.6.0 ships no module descriptor: it is the automatic module "jcuda" (from its file name).
 */
module io.mla4j.cuda {
    requires transitive io.mla4j;
    requires jcuda;
    exports io.mla4j.cuda;
    exports io.mla4j.cuda.cublas;
    provides io.mla4j.spi.MlaBackendProvider with io.mla4j.cuda.CudaBackendProvider;
}
