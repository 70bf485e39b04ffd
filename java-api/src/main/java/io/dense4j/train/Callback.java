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

    /**
     * The most training steps this callback lets run between two {@link #onBatchProgress} calls, or 0 (the default)
     * for no bound: the Trainer then sizes its backend calls by their time ({@link Trainer#STEPS_PER_CALL}). A
     * callback that gives the CPU to other work between calls (the job service serving requests first) keeps them
     * short with it.
     */
    default int maxStepsPerCall() {
        return 0;
    }

    /** Return true to stop training after this epoch. */
    default boolean onEpochEnd(TrainableModel model, EpochLog log) {
        return false;
    }

    default void onTrainEnd(TrainableModel model, History history) {}
}
