package io.dense4j.train;

import io.dense4j.data.Dataset;

/**
 * The backend half of one fit: a backend's training network bound to one (already normalized) training set,
 * continuing from the model's optimizer step. The {@link Trainer} runs the same loop over every backend (host-side
 * shuffling, chunks of steps per call, learning-rate arrays, validation, callbacks), so backends cannot drift apart;
 * a backend only has to run chunks of steps. Not thread-safe. {@link #close()} frees what the session allocated
 * and leaves the backend's parameters and optimizer state current (readable through the backend).
 */
public interface TrainingSession extends AutoCloseable {
    /** The optimizer step counter: updates applied so far, continuing from the model's. */
    long step();

    /** Sets the order of the training rows (indices into the training data) used by the next {@link #train} calls. */
    void order(int[] order);

    /**
     * Runs {@code steps} training steps in one call, step s on the rows {@code order[first + s*batch ...]} (the last
     * batch of the order may be partial), with learning rate {@code learningRates[s]} and dropout masks drawn from
     * {@code seed}. Returns the stats of these steps (before each step's update).
     *
     * @throws NonFiniteLossException when the loss became NaN or infinite; that step's update is not applied
     */
    LossStats train(long first, int batch, int steps, float[] learningRates, long seed);

    /** Loss stats of rows [first, first + count) of an already-normalized data set, without training. */
    LossStats evaluate(Dataset data, int first, int count);

    /** Frees the session's resources; the backend's parameters and optimizer state are current afterwards. */
    @Override
    void close();
}
