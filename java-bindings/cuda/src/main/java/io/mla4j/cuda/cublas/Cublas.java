package io.mla4j.cuda.cublas;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.mla4j.cuda.cublas.cublas_h.*;

/** A cuBLAS handle bound to one stream, with the two GEMM forms mla4j uses; every status checked. */
public final class Cublas implements AutoCloseable {
    private final Arena arena = Arena.ofShared();
    private final MemorySegment handle;
    private final MemorySegment one, zero; // fp32 alpha/beta (compute type 32F)
    private boolean closed;

    /** Creates a handle (the calling thread must have the CUDA context current) and binds it to {@code stream}. */
    public Cublas(long stream) {
        MemorySegment p = arena.allocate(ValueLayout.ADDRESS);
        check(cublasCreate_v2(p), "cublasCreate_v2");
        handle = p.get(ValueLayout.ADDRESS, 0);
        check(cublasSetStream_v2(handle, MemorySegment.ofAddress(stream)), "cublasSetStream_v2");
        one = arena.allocate(ValueLayout.JAVA_FLOAT);
        one.set(ValueLayout.JAVA_FLOAT, 0, 1f);
        zero = arena.allocate(ValueLayout.JAVA_FLOAT);
        zero.set(ValueLayout.JAVA_FLOAT, 0, 0f);
    }

    public int version() {
        MemorySegment v = arena.allocate(ValueLayout.JAVA_INT);
        check(cublasGetVersion_v2(handle, v), "cublasGetVersion_v2");
        return v.get(ValueLayout.JAVA_INT, 0);
    }

    /** C = op(A) op(B), column-major, fp32 accumulation, alpha 1, beta 0. */
    public void gemm(boolean transA, boolean transB, int m, int n, int k, long a, int aType, int lda,
                     long b, int bType, int ldb, long c, int cType, int ldc) {
        check(cublasGemmEx(handle, transA ? CUBLAS_OP_T() : CUBLAS_OP_N(), transB ? CUBLAS_OP_T() : CUBLAS_OP_N(), m, n, k, one,
                MemorySegment.ofAddress(a), aType, lda, MemorySegment.ofAddress(b), bType, ldb, zero,
                MemorySegment.ofAddress(c), cType, ldc, CUBLAS_COMPUTE_32F(), CUBLAS_GEMM_DEFAULT()), "cublasGemmEx");
    }

    /** {@code batch} independent GEMMs at fixed strides (elements), as {@link #gemm}. */
    public void gemmStridedBatched(boolean transA, boolean transB, int m, int n, int k,
                                   long a, int aType, int lda, long strideA, long b, int bType, int ldb, long strideB,
                                   long c, int cType, int ldc, long strideC, int batch) {
        check(cublasGemmStridedBatchedEx(handle, transA ? CUBLAS_OP_T() : CUBLAS_OP_N(), transB ? CUBLAS_OP_T() : CUBLAS_OP_N(),
                m, n, k, one, MemorySegment.ofAddress(a), aType, lda, strideA, MemorySegment.ofAddress(b), bType, ldb, strideB,
                zero, MemorySegment.ofAddress(c), cType, ldc, strideC, batch, CUBLAS_COMPUTE_32F(), CUBLAS_GEMM_DEFAULT()),
                "cublasGemmStridedBatchedEx");
    }

    static void check(int status, String call) {
        if (status != CUBLAS_STATUS_SUCCESS()) throw new CublasException(call, status);
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        check(cublasDestroy_v2(handle), "cublasDestroy_v2");
        arena.close();
    }

    /** A failed cuBLAS call, with the status's name. */
    public static final class CublasException extends RuntimeException {
        CublasException(String call, int status) {
            super(call + " failed: " + statusName(status) + " (" + status + ")");
        }

        static String statusName(int s) {
            return switch (s) {
                case 1 -> "CUBLAS_STATUS_NOT_INITIALIZED";
                case 3 -> "CUBLAS_STATUS_ALLOC_FAILED";
                case 7 -> "CUBLAS_STATUS_INVALID_VALUE";
                case 8 -> "CUBLAS_STATUS_ARCH_MISMATCH";
                case 11 -> "CUBLAS_STATUS_MAPPING_ERROR";
                case 13 -> "CUBLAS_STATUS_EXECUTION_FAILED";
                case 14 -> "CUBLAS_STATUS_INTERNAL_ERROR";
                case 15 -> "CUBLAS_STATUS_NOT_SUPPORTED";
                case 16 -> "CUBLAS_STATUS_LICENSE_ERROR";
                default -> "cublasStatus " + s;
            };
        }
    }
}
