package io.dense4j.service;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * The inference requests this server is serving right now (its inference routes count them), and the wait with
 * which training jobs yield to them: between two chunks of training steps a job waits while any is in flight, at
 * most a bounded time, so that serving comes first and a saturated server still lets jobs progress. The job's
 * kernel threads already run under SCHED_IDLE, which gives inference the processor; what they still take from it
 * when they do run is cache (a job's weights and optimizer state are larger than a core's L2), and that is what
 * this wait spares a busy server.
 */
public final class InferenceActivity {
    /** How often a waiting job looks again (the wait ends within this of the last request ending). */
    static final long POLL_NANOS = 200_000;

    private final AtomicInteger inFlight = new AtomicInteger();

    /** An inference request starts being served. */
    public void begin() {
        inFlight.incrementAndGet();
    }

    /** An inference request is done (answered or refused). */
    public void end() {
        inFlight.decrementAndGet();
    }

    /** Inference requests being served now. */
    public int inFlight() {
        return inFlight.get();
    }

    /**
     * Waits until no inference request is in flight, or {@code maxWait} has passed (zero: does not wait); returns
     * the nanoseconds waited. Interrupts end the wait early and stay set.
     */
    public long awaitQuiet(Duration maxWait) {
        long start = System.nanoTime();
        long limit = maxWait.toNanos();
        while (limit > 0 && inFlight.get() > 0) {
            long waited = System.nanoTime() - start;
            if (waited >= limit || Thread.currentThread().isInterrupted()) {
                break;
            }
            LockSupport.parkNanos(this, Math.min(POLL_NANOS, limit - waited));
        }
        return System.nanoTime() - start;
    }
}
