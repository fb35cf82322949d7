package io.mla4j.ascend;

import io.mla4j.ascend.acl.acl_h;

/**
 * aclInit / aclFinalize for the whole JVM, shared by every open backend (ACL allows one initialised
 * session per process). The first lease initialises, the last one finalises; if the host application
 * had already called aclInit, mla4j leaves finalising to it.
 *
 * <p>With a real CANN library the session is finalised at JVM exit rather than when the last backend
 * closes, since CANN documents one aclInit per process. With the emulator it is finalised when the
 * last backend closes, so its leak report runs then.
 */
final class AclSession {
    private static int leases;
    private static boolean weInitialised;
    private static boolean hookInstalled;

    private AclSession() {}

    /** One backend's hold on the session; close it once. */
    static final class Lease implements AutoCloseable {
        private final boolean emulated;
        private boolean closed;

        private Lease(boolean emulated) { this.emulated = emulated; }

        @Override
        public void close() {
            synchronized (AclSession.class) {
                if (closed) return;
                closed = true;
                if (--leases == 0 && weInitialised && emulated) {
                    weInitialised = false;
                    Acl.check("aclFinalize", acl_h.aclFinalize());
                }
            }
        }
    }

    static synchronized Lease acquire(boolean emulated) {
        if (leases == 0 && !weInitialised) {
            int rc = acl_h.aclInit(java.lang.foreign.MemorySegment.NULL);
            if (rc == acl_h.ACL_ERROR_REPEAT_INITIALIZE()) {
                Acl.recentMessage();  // consume it: someone else owns the session
            } else {
                Acl.check("aclInit", rc);
                weInitialised = true;
                if (!emulated && !hookInstalled) {
                    hookInstalled = true;
                    Runtime.getRuntime().addShutdownHook(new Thread(AclSession::finalizeAtExit, "mla4j-acl-finalize"));
                }
            }
        }
        leases++;
        return new Lease(emulated);
    }

    private static synchronized void finalizeAtExit() {
        if (weInitialised && leases == 0) {
            weInitialised = false;
            acl_h.aclFinalize();
        }
    }
}
