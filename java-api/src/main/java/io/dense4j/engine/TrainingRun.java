package io.dense4j.engine;

import io.dense4j.data.Dataset;

/**
 * The device-specific half of one {@code Sequential.fit}: the training network of one device (CPU or CUDA) bound
 * to one training data set. {@code Sequential} runs the same loop over either (host-side shuffling, chunks of
 * steps per native call, learning-rate arrays, validation, callbacks), so the two devices cannot drift apart.
 * Not thread-safe; {@link #close()} frees what the run allocated and leaves the model's host copies current.
 */
public interface TrainingRun extends AutoCloseable {
    /** The optimizer step counter (updates applied so far, continuing from the model's). */
    long step();

    /** Sets the order of the training rows (indices into the training data) used by the next {@link #train} calls. */
    void order(int[] order);

    /**
     * Runs {@code nBatches} steps in one native call, step s on the rows {@code order[first + s*batch ...]}, with
     * learning rate {@code lrs[s]}. Returns this call's loss sum, correct count and rows.
     *
     * @throws NonFiniteLossException when the loss became NaN or infinite (that update is not applied)
     */
    double[] train(long first, int batch, int nBatches, float[] lrs, long seed);

    /** Loss sum, correct count and rows over rows [first, first+count) of an already-normalized data set. */
    double[] stats(Dataset data, int first, int count);

    /** Makes the model's host parameters current (callbacks read and save them at the end of every epoch). */
    void syncToHost();

    /** Frees the run's native resources; the host parameters and optimizer state are current afterwards. */
    @Override
    void close();
}
