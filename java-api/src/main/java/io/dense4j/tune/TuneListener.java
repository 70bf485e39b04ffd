package io.dense4j.tune;

import io.dense4j.train.EpochLog;

/**
 * Progress of a tune, for logs and live streams. Called from the trials' worker threads: implementations must be
 * thread-safe and quick (hand the event off; never train or block here).
 */
public interface TuneListener {
    /** A trial starts (new) or resumes (promoted to a further rung). */
    default void onTrialStart(TrialRecord trial, int targetEpochs) {}

    /** An epoch of one fold of a trial ended; {@code totalEpoch} counts from the trial's start. */
    default void onTrialEpoch(int trial, int fold, int totalEpoch, EpochLog log) {}

    /** A trial reached a rung, or failed, or was cancelled; {@code trial.state()} says which. */
    default void onTrialResult(TrialRecord trial) {}

    /** The search finished and the best trial is known (before any retraining). */
    default void onSearchEnd(TuneResult result) {}

    TuneListener NONE = new TuneListener() {};
}
