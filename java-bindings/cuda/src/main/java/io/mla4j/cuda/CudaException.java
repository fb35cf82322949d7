package io.mla4j.cuda;

/** A CUDA driver (or cuBLAS) call that failed: carries the call, the numeric code and its name. */
public final class CudaException extends RuntimeException {
    private final int code;

    public CudaException(String call, int code, String errorName) {
        super(call + " failed: " + errorName + " (" + code + ")");
        this.code = code;
    }

    public CudaException(String message) {
        super(message);
        this.code = -1;
    }

    /** The CUresult / cublasStatus_t value, or -1 when the failure was not a status code. */
    public int code() { return code; }
}
