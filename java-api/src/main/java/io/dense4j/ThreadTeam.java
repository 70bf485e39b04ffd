package io.dense4j;

import io.dense4j.backend.cpu.CpuThreads;
import io.dense4j.backend.cpu.KernelThread;
import java.util.concurrent.ThreadFactory;

/**
 * A private team of CPU kernel threads for the calling thread, for as long as it is open: every kernel this thread
 * runs (fit, evaluate, predict on the CPU) runs on itself plus {@code threads - 1} workers of its own, whatever the
 * process-wide count ({@link Dense4J#setThreads}) and whatever other threads run at the same time. The training
 * service gives each job (and each parallel trial) the threads the scheduler allocated to it this way. Results are
 * those of every other thread count. Closing it (on the thread that opened it) ends its workers and gives the
 * thread back what it had before: the shared pool, or an enclosing team.
 *
 * <p>Inside a {@link Dense4J#kernelThreads} scope (opened by this thread or by one that started it) the team's
 * kernels run on a thread of that scope's factory instead, while this thread waits: the kernels can run at a lower
 * scheduling priority than this thread's own work.
 *
 * <pre>{@code
 * try (ThreadTeam team = Dense4J.threadTeam(2)) {
 *     model.fit(data, fit);
 * }
 * }</pre>
 */
public final class ThreadTeam implements AutoCloseable {
    private final Thread owner;
    private final int threads;
    private final int previous;
    private final long[] start;
    private final KernelThread kernel; // null: the kernels run on the owner itself
    private boolean closed;

    ThreadTeam(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("a thread team needs at least 1 thread, got " + threads);
        }
        this.owner = Thread.currentThread();
        this.threads = threads;
        ThreadFactory factory = KernelThreads.factory();
        if (factory != null) {
            this.previous = 0;
            this.kernel = KernelThread.open(factory, threads);
            this.start = KernelThread.call(CpuThreads::stats);
        } else {
            this.kernel = null;
            this.previous = CpuThreads.callerThreads();
            CpuThreads.setCallerThreads(threads);
            this.start = CpuThreads.stats();
        }
    }

    /** Whether this team's kernels run on a kernel thread of a {@link Dense4J#kernelThreads} scope. */
    public boolean onKernelThread() {
        return kernel != null;
    }

    /** The threads asked for (the team never has more than the CPUs this process may use). */
    public int threads() {
        return threads;
    }

    /**
     * Counters of this team's parallel regions since it was opened: run in parallel; run serially because parallel
     * was measured slower here (or to measure serial); run serially because another thread held the pool (never, on
     * a private team); switches to serial; waits for a descheduled worker. A team of one runs every region itself
     * and counts none.
     */
    public record Stats(long parallel, long serial, long busy, long backoffs, long slept) {}

    /** This team's counters since it was opened (read on the owning thread, while open). */
    public Stats stats() {
        checkOwner();
        long[] now = KernelThread.call(CpuThreads::stats);
        return new Stats(now[0] - start[0], now[1] - start[1], now[2] - start[2], now[3] - start[3], now[4] - start[4]);
    }

    @Override
    public void close() {
        checkOwner();
        if (!closed) {
            closed = true;
            if (kernel != null) {
                kernel.close();
            } else {
                CpuThreads.setCallerThreads(previous);
            }
        }
    }

    private void checkOwner() {
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException("a thread team belongs to the thread that opened it (" + owner.getName()
                    + "), not " + Thread.currentThread().getName());
        }
    }
}
