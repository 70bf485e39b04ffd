package io.dense4j.service.job;

import java.time.Duration;

/**
 * When a train job saves a checkpoint: at the end of an epoch once {@code minInterval} has passed since the last
 * one (or since training began), and always at the end of the last epoch. A checkpoint is a model file (weights
 * and optimizer buffers) written with fsync plus a state-store commit; a small model's epochs take a fraction of a
 * second, so saving after every one would flush to disk several times a second for little: a resumed job redoes at
 * most {@code minInterval} plus one epoch of work, and ends with the same weights either way (it resumes at an epoch
 * boundary, drawing the uninterrupted run's shuffles).
 * {@link Duration#ZERO}: after every epoch. Not thread-safe (one per fit).
 */
public final class CheckpointSchedule {
    /** What a job gets when neither its spec nor the server says otherwise. */
    public static final long DEFAULT_MIN_INTERVAL_SECONDS = 30;
    public static final Duration DEFAULT_MIN_INTERVAL = Duration.ofSeconds(DEFAULT_MIN_INTERVAL_SECONDS);

    private final long minIntervalNanos;
    private long last;

    /** @param startNanos when training began ({@link System#nanoTime}) */
    public CheckpointSchedule(Duration minInterval, long startNanos) {
        if (minInterval.isNegative()) {
            throw new IllegalArgumentException("the checkpoint interval must be >= 0, got " + minInterval);
        }
        this.minIntervalNanos = minInterval.toNanos();
        this.last = startNanos;
    }

    /** Whether the epoch that just ended ({@code epochsDone} of {@code epochs}) is checkpointed. */
    public boolean due(int epochsDone, int epochs, long nowNanos) {
        return epochsDone >= epochs || nowNanos - last >= minIntervalNanos;
    }

    /** A checkpoint was saved at {@code nowNanos}: the interval starts again. */
    public void saved(long nowNanos) {
        last = nowNanos;
    }
}
