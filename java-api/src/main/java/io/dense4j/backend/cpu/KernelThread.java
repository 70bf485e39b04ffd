package io.dense4j.backend.cpu;

import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

/**
 * A thread that runs the native kernels of one {@code ThreadTeam} while the thread that opened the team waits: the
 * team's kernel threads (this one and the workers it starts) can then run at a lower scheduling priority than the
 * opening thread, without the opening thread's own work (locks, database writes, I/O) ever running at that
 * priority. The training service uses it so that a job's arithmetic yields the CPU to inference (Linux SCHED_IDLE),
 * while its bookkeeping, which holds locks other threads wait for, keeps the server's priority: a starved thread
 * holding a lock would stall every thread waiting for it.
 *
 * <p>The hand-over takes no lock (volatile fields and park/unpark), so no thread ever waits for a lock the kernel
 * thread holds. Only the thread that opened it uses it (the calls of one thread never overlap).
 */
public final class KernelThread implements AutoCloseable {
    private static final ThreadLocal<KernelThread> CURRENT = new ThreadLocal<>();

    private final Thread owner;
    private final Thread thread;
    private final int threads;
    private final KernelThread previous;
    private volatile Supplier<?> task;
    private volatile Object result;
    private volatile Throwable failure;
    private volatile boolean done = true;
    private volatile boolean closing;

    private KernelThread(ThreadFactory factory, int threads) {
        this.owner = Thread.currentThread();
        this.threads = threads;
        this.previous = CURRENT.get();
        this.thread = factory.newThread(this::loop);
        if (thread == null) {
            throw new IllegalStateException("the kernel thread factory made no thread");
        }
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * Starts a kernel thread with a private team of {@code threads} (made by {@code factory}, whose threads may
     * lower their own priority before they run what they are given) and makes it the calling thread's: its
     * {@link #call}s run there until {@link #close}.
     */
    public static KernelThread open(ThreadFactory factory, int threads) {
        KernelThread k = new KernelThread(factory, threads);
        CURRENT.set(k);
        return k;
    }

    /** The calling thread's kernel thread, or null when its kernels run on itself. */
    public static KernelThread current() {
        return CURRENT.get();
    }

    /** The size of the team the kernel thread runs its kernels on. */
    public int threads() {
        return threads;
    }

    /** Runs {@code work} (native kernels) on the calling thread's kernel thread, or on the calling thread without one. */
    public static <T> T call(Supplier<T> work) {
        KernelThread k = CURRENT.get();
        return k == null ? work.get() : k.run(work);
    }

    @SuppressWarnings("unchecked")
    private <T> T run(Supplier<T> work) {
        if (closing) {
            throw new IllegalStateException("the kernel thread was closed");
        }
        failure = null;
        result = null;
        done = false;
        task = work; // published by the volatile write; the kernel thread reads it after its unpark
        LockSupport.unpark(thread);
        boolean interrupted = false;
        while (!done) {
            LockSupport.parkNanos(this, TimeUnit.SECONDS.toNanos(1));
            interrupted |= Thread.interrupted(); // the kernels cannot be interrupted half-way: wait, keep the flag
            if (!done && !thread.isAlive()) {
                throw new IllegalStateException("the kernel thread " + thread.getName() + " died");
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        Throwable f = failure;
        if (f instanceof RuntimeException e) {
            throw e;
        }
        if (f instanceof Error e) {
            throw e;
        }
        if (f != null) {
            throw new IllegalStateException(f);
        }
        return (T) result;
    }

    private void loop() {
        CpuThreads.setCallerThreads(threads);
        try {
            while (true) {
                Supplier<?> t = task;
                if (t == null) {
                    if (closing) {
                        return;
                    }
                    LockSupport.park(this);
                    continue;
                }
                try {
                    result = t.get();
                } catch (Throwable e) {
                    failure = e;
                }
                task = null;
                done = true;
                LockSupport.unpark(owner);
            }
        } finally {
            CpuThreads.setCallerThreads(0); // frees the team's workers
        }
    }

    /** Ends the kernel thread (and its team's workers) and gives the calling thread back what it had before. */
    @Override
    public void close() {
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException("a kernel thread belongs to the thread that opened it (" + owner.getName()
                    + "), not " + Thread.currentThread().getName());
        }
        if (closing) {
            return;
        }
        closing = true;
        LockSupport.unpark(thread);
        try {
            thread.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (previous == null) {
            CURRENT.remove();
        } else {
            CURRENT.set(previous);
        }
    }
}
