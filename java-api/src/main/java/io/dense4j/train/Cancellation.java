package io.dense4j.train;

/**
 * Asks a running fit to stop: the {@link Trainer} checks it before every chunk of steps, so a fit stops within
 * one chunk (64 steps at first, later ones ~10-20 ms or a callback's {@link Callback#maxStepsPerCall}) of
 * {@link #cancel()}, keeps the weights of the last finished chunk, calls the
 * callbacks' {@code onTrainEnd} and returns its history marked {@link History#cancelled()}. Thread-safe: a
 * training service cancels from another thread than the one that trains.
 */
public final class Cancellation {
    private volatile boolean cancelled;

    public void cancel() {
        cancelled = true;
    }

    public boolean isCancelled() {
        return cancelled;
    }
}
