package io.dense4j.backend.cpu;

import io.dense4j.nativelib.CpuKernels;
import org.bytedeco.javacpp.LongPointer;

/**
 * The calling thread's side of the CPU kernels' threads: its private team (d4j_set_caller_threads, used through
 * {@code Dense4J.threadTeam}) and the counters of the pool its kernels run on. Loads the native library.
 */
public final class CpuThreads {
    private CpuThreads() {}

    /** Gives the calling thread a private team of n kernel threads; 0 returns it to the shared pool. */
    public static void setCallerThreads(int n) {
        CpuKernels.d4j_set_caller_threads(Math.max(0, n));
    }

    /** The calling thread's private team size, 0 when it uses the shared pool. */
    public static int callerThreads() {
        return CpuKernels.d4j_get_caller_threads();
    }

    /**
     * The 6 counters of the calling thread's pool (its private team's, else the shared pool's), as d4j_thread_stats:
     * regions run in parallel; serially because parallel was measured slower (or to measure serial); serially
     * because another thread held the pool; switches to serial; waits for a descheduled worker; parallel regions no
     * worker joined.
     */
    public static long[] stats() {
        try (LongPointer p = new LongPointer(6)) {
            CpuKernels.d4j_thread_stats(p);
            long[] out = new long[6];
            p.get(out);
            return out;
        }
    }
}
