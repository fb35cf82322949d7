package io.mla4j.cpu;

import static org.junit.jupiter.api.Assertions.*;

import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class WorkerPoolTest {
    @Test
    void runsEveryTaskOnceOnValidWorkers() {
        try (WorkerPool pool = new WorkerPool(3, "test")) {
            for (int rep = 0; rep < 50; rep++) {
                int n = 1 + rep % 17;
                AtomicIntegerArray hits = new AtomicIntegerArray(n);
                pool.run(n, (t, w) -> {
                    assertTrue(w >= 0 && w < 3);
                    hits.incrementAndGet(t);
                });
                for (int i = 0; i < n; i++) assertEquals(1, hits.get(i), "task " + i);
            }
        }
    }

    @Test
    void rethrowsATaskFailureAndStaysUsable() {
        try (WorkerPool pool = new WorkerPool(2, "test")) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> pool.run(8, (t, w) -> {
                if (t == 5) throw new IllegalStateException("task 5 failed");
            }));
            assertEquals("task 5 failed", e.getMessage());
            AtomicIntegerArray hits = new AtomicIntegerArray(4);
            pool.run(4, (t, w) -> hits.incrementAndGet(t));
            for (int i = 0; i < 4; i++) assertEquals(1, hits.get(i));
        }
    }

    @Test
    void refusesWorkAfterClose() {
        WorkerPool pool = new WorkerPool(2, "test");
        pool.close();
        pool.close(); // idempotent
        assertThrows(IllegalStateException.class, () -> pool.run(1, (t, w) -> {}));
    }
}
