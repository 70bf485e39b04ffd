package io.dense4j.train;

/**
 * Hooks into fit. Batch progress is reported per chunk of steps (the engine runs many steps per native
 * call), at least every few hundred milliseconds of training. Callbacks get the model as a {@link TrainableModel}:
 * its parameters are current whenever a callback runs, on every backend.
 */
public interface Callback {
    default void onTrainBegin(TrainableModel model, Fit fit, int stepsPerEpoch) {}

    default void onEpochBegin(int epoch) {}

    /** stepsDone of stepsPerEpoch finished in this epoch; running means of loss and accuracy so far. */
    default void onBatchProgress(int epoch, int stepsDone, double loss, double accuracy) {}

    /** Return true to stop training after this epoch. */
    default boolean onEpochEnd(TrainableModel model, EpochLog log) {
        return false;
    }

    default void onTrainEnd(TrainableModel model, History history) {}
}
