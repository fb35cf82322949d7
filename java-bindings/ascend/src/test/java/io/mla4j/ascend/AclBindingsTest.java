package io.mla4j.ascend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.mla4j.ascend.acl.AclLibrary;
import io.mla4j.ascend.acl.acl_h;
import io.mla4j.ascend.acl.mla4j_acl_emu_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The generated FFM bindings against the ACL emulator, with the tiny test kernel binary from native/
 * (z = x + y): the full host -> FFM -> ACL -> kernel path, and the emulator's checks firing on planted
 * faults as {@link AclException}s that name the call, the code and the emulator's message.
 */
class AclBindingsTest {
    private static Path testKernel;
    private Arena arena;

    @BeforeAll
    static void load() {
        AclLibrary.load(TestLibs.emulator());
        testKernel = TestLibs.testKernel();
    }

    @BeforeEach
    void init() {
        arena = Arena.ofConfined();
        Acl.check("aclInit", acl_h.aclInit(MemorySegment.NULL));
        Acl.check("aclrtSetDevice", acl_h.aclrtSetDevice(0));
    }

    @AfterEach
    void finish() {
        acl_h.aclrtResetDevice(0);
        acl_h.aclFinalize();
        Acl.recentMessage();
        arena.close();
    }

    private MemorySegment malloc(long bytes) {
        MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
        Acl.check("aclrtMalloc", acl_h.aclrtMalloc(out, bytes, acl_h.ACL_MEM_MALLOC_HUGE_FIRST()));
        return out.get(ValueLayout.ADDRESS, 0);
    }

    private MemorySegment handle(String call, java.util.function.ToIntFunction<MemorySegment> op) {
        MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
        Acl.check(call, op.applyAsInt(out));
        return out.get(ValueLayout.ADDRESS, 0);
    }

    @Test
    void emulatorIsRecognised() {
        assertTrue(AclLibrary.isEmulator());
        assertEquals(1, mla4j_acl_emu_h.mla4j_acl_emu_is_emulator());
    }

    @Test
    void addKernelRunsThroughFfm() {
        int n = 4099;
        float[] x = new float[n], y = new float[n], want = new float[n];
        java.util.Random r = new java.util.Random();
        for (int i = 0; i < n; i++) { x[i] = r.nextFloat(); y[i] = r.nextFloat() - 3; want[i] = x[i] + y[i]; }
        long bytes = 4L * n;
        MemorySegment dx = malloc(bytes), dy = malloc(bytes), dz = malloc(bytes), dt = malloc(4);
        Acl.check("aclrtMemcpy", acl_h.aclrtMemcpy(dx, bytes, arena.allocateFrom(ValueLayout.JAVA_FLOAT, x), bytes, acl_h.ACL_MEMCPY_HOST_TO_DEVICE()));
        Acl.check("aclrtMemcpy", acl_h.aclrtMemcpy(dy, bytes, arena.allocateFrom(ValueLayout.JAVA_FLOAT, y), bytes, acl_h.ACL_MEMCPY_HOST_TO_DEVICE()));
        Acl.check("aclrtMemcpy", acl_h.aclrtMemcpy(dt, 4, arena.allocateFrom(ValueLayout.JAVA_INT, n), 4, acl_h.ACL_MEMCPY_HOST_TO_DEVICE()));
        MemorySegment stream = handle("aclrtCreateStream", acl_h::aclrtCreateStream);
        MemorySegment bin = handle("aclrtBinaryLoadFromFile", o -> acl_h.aclrtBinaryLoadFromFile(arena.allocateFrom(testKernel.toString()), MemorySegment.NULL, o));
        MemorySegment fn = handle("aclrtBinaryGetFunction", o -> acl_h.aclrtBinaryGetFunction(bin, arena.allocateFrom("add_f32"), o));
        MemorySegment args = arena.allocate(ValueLayout.ADDRESS, 4);
        MemorySegment[] ptrs = {dx, dy, dz, dt};
        for (int i = 0; i < 4; i++) args.setAtIndex(ValueLayout.ADDRESS, i, ptrs[i]);
        Acl.check("aclrtLaunchKernelWithHostArgs", acl_h.aclrtLaunchKernelWithHostArgs(fn, 5, stream, MemorySegment.NULL, args, args.byteSize(), MemorySegment.NULL, 0));
        Acl.check("aclrtSynchronizeStream", acl_h.aclrtSynchronizeStream(stream));
        MemorySegment z = arena.allocate(bytes);
        Acl.check("aclrtMemcpy", acl_h.aclrtMemcpy(z, bytes, dz, bytes, acl_h.ACL_MEMCPY_DEVICE_TO_HOST()));
        assertArrayEquals(want, z.toArray(ValueLayout.JAVA_FLOAT));
        for (MemorySegment p : ptrs) Acl.check("aclrtFree", acl_h.aclrtFree(p));
        Acl.check("aclrtDestroyStream", acl_h.aclrtDestroyStream(stream));
        Acl.check("aclrtBinaryUnLoad", acl_h.aclrtBinaryUnLoad(bin));
    }

    @Test
    void plantedFaultsBecomeAclExceptions() {
        MemorySegment d = malloc(256);
        MemorySegment host = arena.allocate(512);
        AclException oob = assertThrows(AclException.class, () ->
                Acl.check("aclrtMemcpy", acl_h.aclrtMemcpy(d, 512, host, 512, acl_h.ACL_MEMCPY_HOST_TO_DEVICE())));
        assertEquals(acl_h.ACL_ERROR_INVALID_PARAM(), oob.code());
        assertTrue(oob.getMessage().contains("aclrtMemcpy failed: aclError 100000 (ACL_ERROR_INVALID_PARAM)"), oob.getMessage());
        assertTrue(oob.getMessage().contains("past the end"), oob.getMessage());

        AclException kind = assertThrows(AclException.class, () ->
                Acl.check("aclrtMemcpy", acl_h.aclrtMemcpy(d, 256, host, 256, 17)));
        assertTrue(kind.getMessage().contains("not an aclrtMemcpyKind"), kind.getMessage());

        Acl.check("aclrtFree", acl_h.aclrtFree(d));
        AclException twice = assertThrows(AclException.class, () -> Acl.check("aclrtFree", acl_h.aclrtFree(d)));
        assertEquals(acl_h.ACL_ERROR_RT_MEMORY_FREE(), twice.code());
        assertTrue(twice.getMessage().contains("double free"), twice.getMessage());

        MemorySegment bin = arena.allocate(ValueLayout.ADDRESS);
        AclException notBinary = assertThrows(AclException.class, () -> Acl.check("aclrtBinaryLoadFromFile",
                acl_h.aclrtBinaryLoadFromFile(arena.allocateFrom(AclLibrary.path().toString()), MemorySegment.NULL, bin)));
        assertEquals(acl_h.ACL_ERROR_INVALID_FILE(), notBinary.code());
        assertTrue(notBinary.getMessage().contains("not an emulated kernel binary"), notBinary.getMessage());
    }

    @Test
    void leakIsReportedAndUseAfterResetCaught() {
        long leaks = mla4j_acl_emu_h.mla4j_acl_emu_leaks_reported();
        MemorySegment leaked = malloc(1000);
        assertEquals(1, mla4j_acl_emu_h.mla4j_acl_emu_live_allocations());
        Acl.check("aclrtResetDevice", acl_h.aclrtResetDevice(0));
        assertEquals(leaks + 1, mla4j_acl_emu_h.mla4j_acl_emu_leaks_reported());
        assertEquals(0, mla4j_acl_emu_h.mla4j_acl_emu_live_allocations());
        AclException afterReset = assertThrows(AclException.class, () -> Acl.check("aclrtFree", acl_h.aclrtFree(leaked)));
        assertTrue(afterReset.getMessage().contains("aclrtResetDevice"), afterReset.getMessage());
        AclException noContext = assertThrows(AclException.class, () -> malloc(16));
        assertEquals(acl_h.ACL_ERROR_RT_CONTEXT_NULL(), noContext.code());
        Acl.check("aclrtSetDevice", acl_h.aclrtSetDevice(0));  // for finish()
    }
}
