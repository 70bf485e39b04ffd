package io.dense4j;

import io.dense4j.backend.cpu.CpuBackend;

/** Process-wide settings of the native engine. */
public final class Dense4J {
    private Dense4J() {}

    /**
     * Threads of the CPU kernels (OpenBLAS's pool; our own loops are single-threaded). n &lt;= 0 means one
     * per core. The default is 1 (or the system property {@code dense4j.threads}): small GEMMs such as
     * the 32-row batches of the reference workload are fastest on one thread, and OpenBLAS's spinning
     * pool slows down badly when another process holds a core; large batches gain from more.
     */
    public static void setThreads(int n) {
        CpuBackend.setThreads(n);
    }

    public static int threads() {
        return CpuBackend.threads();
    }
}
