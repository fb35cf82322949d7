package io.mla4j.cpu;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fixed set of daemon threads that run one parallel loop at a time: {@link #run} hands out task
 * indices 0..n-1 to whichever worker is free and returns when all are done. Created once per backend
 * and reused by every call, so a decode pays a wake-up, not a thread start; nothing is allocated per
 * call. Each worker passes its own id to the task so it can use scratch memory of its own.
 */
public final class WorkerPool implements AutoCloseable {

    /** The body of a parallel loop: task {@code task} run by worker {@code worker} (0 .. size-1). */
    @FunctionalInterface
    public interface Task {
        void run(int task, int worker);
    }

    private final Thread[] threads;
    private final AtomicInteger nextTask = new AtomicInteger();
    private final Object lock = new Object();
    // all fields below are guarded by lock
    private Task job;
    private int jobTasks;
    private long generation;
    private int running;
    private Throwable failure;
    private boolean closed;

    public WorkerPool(int size, String name) {
        if (size < 1) throw new IllegalArgumentException("pool size must be >= 1, got " + size);
        threads = new Thread[size];
        for (int i = 0; i < size; i++) {
            final int id = i;
            Thread t = new Thread(() -> workLoop(id), name + "-" + i);
            t.setDaemon(true); // never keeps a JVM alive that forgot to close its backend
            threads[i] = t;
            t.start();
        }
    }

    public int size() { return threads.length; }

    /**
     * Runs {@code task} for every index in [0, tasks) on the pool and waits. One loop at a time: a
     * second caller waits for the first. A task's exception is rethrown here after all tasks finished.
     */
    public synchronized void run(int tasks, Task task) {
        if (tasks <= 0) return;
        synchronized (lock) {
            if (closed) throw new IllegalStateException("worker pool is shut down");
            job = task;
            jobTasks = tasks;
            failure = null;
            nextTask.set(0);
            running = threads.length;
            generation++;
            lock.notifyAll();
            boolean interrupted = false;
            while (running > 0) {
                try {
                    lock.wait();
                } catch (InterruptedException e) {
                    interrupted = true; // the workers still use our data: wait for them regardless
                }
            }
            job = null;
            if (interrupted) Thread.currentThread().interrupt();
            if (failure != null) {
                Throwable f = failure;
                failure = null;
                if (f instanceof RuntimeException re) throw re;
                if (f instanceof Error err) throw err;
                throw new IllegalStateException(f);
            }
        }
    }

    private void workLoop(int id) {
        long seen = 0;
        while (true) {
            Task task;
            int tasks;
            synchronized (lock) {
                while (generation == seen && !closed) {
                    try {
                        lock.wait();
                    } catch (InterruptedException e) {
                        // only close() interrupts; re-check closed
                    }
                }
                if (generation == seen) return; // closed, and no loop left to run
                seen = generation;
                task = job;
                tasks = jobTasks;
            }
            Throwable thrown = null;
            try {
                for (int t = nextTask.getAndIncrement(); t < tasks; t = nextTask.getAndIncrement()) task.run(t, id);
            } catch (Throwable e) {
                thrown = e;
                nextTask.set(tasks); // stop handing out the rest
            }
            synchronized (lock) {
                if (thrown != null && failure == null) failure = thrown;
                if (--running == 0) lock.notifyAll();
            }
        }
    }

    /** Waits up to {@code millis} for every worker thread to have exited (after {@link #close}); true if they have. */
    boolean awaitStopped(long millis) throws InterruptedException {
        long deadline = System.nanoTime() + millis * 1_000_000;
        for (Thread t : threads) {
            long left = (deadline - System.nanoTime()) / 1_000_000;
            if (left > 0) t.join(left);
            if (t.isAlive()) return false;
        }
        return true;
    }

    /** Stops the threads (they finish the loop in progress first); idempotent. */
    @Override
    public void close() {
        synchronized (lock) {
            closed = true;
            lock.notifyAll();
        }
    }
}
