package io.mla4j.ascend;

import io.mla4j.ascend.acl.acl_h;
import java.lang.foreign.MemorySegment;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.HashMap;
import java.util.Map;

/** aclError checking over the generated bindings: every call goes through {@link #check}. */
final class Acl {
    private Acl() {}

    private static volatile Map<Integer, String> names;

    /** Throws {@link AclException} (with aclGetRecentErrMsg()) unless {@code rc} is ACL_SUCCESS. */
    static void check(String call, int rc) {
        if (rc != acl_h.ACL_SUCCESS()) throw new AclException(call, rc, recentMessage());
    }

    /** aclGetRecentErrMsg() of this thread, or null. */
    static String recentMessage() {
        try {
            MemorySegment m = acl_h.aclGetRecentErrMsg();
            return m.equals(MemorySegment.NULL) ? null : m.getString(0);
        } catch (RuntimeException | LinkageError e) {
            return "(aclGetRecentErrMsg unavailable: " + e + ")";
        }
    }

    /** The ACL_ERROR_* name of a code, from the constants in the header subset. */
    static String errorName(int code) {
        Map<Integer, String> n = names;
        if (n == null) {
            n = new HashMap<>();
            for (Method m : acl_h.class.getDeclaredMethods()) {
                if (m.getName().startsWith("ACL_ERROR_") && m.getParameterCount() == 0 && m.getReturnType() == int.class
                        && Modifier.isStatic(m.getModifiers()) && Modifier.isPublic(m.getModifiers())) {
                    try {
                        n.putIfAbsent((Integer) m.invoke(null), m.getName());
                    } catch (ReflectiveOperationException e) {
                        throw new IllegalStateException(e);
                    }
                }
            }
            names = n;
        }
        if (code == 0) return "ACL_SUCCESS";
        return n.getOrDefault(code, "unknown code");
    }
}
