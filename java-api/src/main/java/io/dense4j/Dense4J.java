package io.dense4j;

import io.dense4j.backend.cpu.CpuBackend;

/** Process-wide settings of the native engine. */
public final class Dense4J {
    private Dense4J() {}

    /**
     * Threads of the CPU kernels (Dense4J's own pool, which runs every product). n &lt;= 0 means one per
     * core. The default is 1 (or the system property {@code dense4j.threads}). Any count is safe: the pool
     * never runs more threads than the cores this process may use, and runs serially while another process
     * holds them, so asking for more than the machine has, or sharing it, costs about what one thread costs.
     * Results are the same for every thread count (each output is computed entirely by one thread). A thread
     * with its own {@link #threadTeam} is not affected.
     */
    public static void setThreads(int n) {
        CpuBackend.setThreads(n);
    }

    /** The calling thread's kernel threads: its {@link ThreadTeam}'s when it has one, else the shared count. */
    public static int threads() {
        return CpuBackend.threads();
    }

    /**
     * Opens a private team of {@code threads} kernel threads for the calling thread (close it on the same thread,
     * with try-with-resources): see {@link ThreadTeam}. {@link #setThreads} sets the shared pool other threads use.
     */
    public static ThreadTeam threadTeam(int threads) {
        return new ThreadTeam(threads);
    }

    /**
     * Until it is closed, the {@link ThreadTeam}s this thread opens (and those opened by threads it starts meanwhile,
     * such as a tuner's trial workers) run their kernels on a thread made by {@code factory}, and the workers it starts,
     * while the opening thread waits for them. A factory whose threads lower their own scheduling priority (e.g.
     * Linux SCHED_IDLE) makes the arithmetic yield the CPU to other work, while the opening thread's own code (which
     * may hold locks other threads wait for) keeps its priority. The hand-over costs a few microseconds per native
     * call (a training call runs many steps).
     */
    public static KernelThreads kernelThreads(java.util.concurrent.ThreadFactory factory) {
        return new KernelThreads(factory);
    }
}
