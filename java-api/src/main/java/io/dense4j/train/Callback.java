package io.dense4j.train;

import io.dense4j.Sequential;

/**
 * Hooks into fit. Batch progress is reported per chunk of steps (the engine runs many steps per native
 * call), at least every few hundred milliseconds of training.
 */
public interface Callback {
    default void onTrainBegin(Sequential model, Fit fit, int stepsPerEpoch) {}

    default void onEpochBegin(int epoch) {}

    /** stepsDone of stepsPerEpoch finished in this epoch; running means of loss and accuracy so far. */
    default void onBatchProgress(int epoch, int stepsDone, double loss, double accuracy) {}

    /** Return true to stop training after this epoch. */
    default boolean onEpochEnd(Sequential model, EpochLog log) {
        return false;
    }

    default void onTrainEnd(Sequential model, History history) {}
}
