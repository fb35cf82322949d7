package io.mla4j.ascend;

/** An ACL call returned an error: names the call, the aclError code (and its name) and aclGetRecentErrMsg(). */
public final class AclException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final String call;
    private final int code;

    public AclException(String call, int code, String recentMessage) {
        super(call + " failed: aclError " + code + " (" + Acl.errorName(code) + ")"
                + (recentMessage == null || recentMessage.isBlank() ? "" : ": " + recentMessage));
        this.call = call;
        this.code = code;
    }

    /** The ACL function that failed, e.g. "aclrtMalloc". */
    public String call() { return call; }

    /** The aclError it returned. */
    public int code() { return code; }
}
