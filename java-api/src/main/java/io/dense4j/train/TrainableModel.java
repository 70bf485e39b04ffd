package io.dense4j.train;

import io.dense4j.data.Dataset;
import java.nio.file.Path;

/**
 * A model as callbacks and cross-validation see it: train, evaluate, read and replace its weights, save it.
 * {@code Sequential} implements it; callbacks receive it rather than a concrete model class, so that the training
 * package depends on no model class.
 */
public interface TrainableModel extends AutoCloseable {
    /** Trains on {@code data}; see {@link Fit}. */
    History fit(Dataset data, Fit fit);

    /** Loss and metrics over {@code data}. */
    Evaluation evaluate(Dataset data);

    /** A copy of every parameter, in the layout of {@link io.dense4j.layers.Architecture}. */
    float[] parameters();

    /** Replaces every parameter. */
    void setParameters(float[] values);

    /** Updates applied so far. */
    long optimizerStep();

    /** Saves the model (atomically); with {@code includeOptimizerState} also the optimizer's buffers, for a resume. */
    void save(Path file, boolean includeOptimizerState);

    /** Saves the model without the optimizer's buffers. */
    default void save(Path file) {
        save(file, false);
    }

    @Override
    void close();
}
