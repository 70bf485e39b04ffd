package io.dense4j.train;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import java.nio.file.Path;

/**
 * Saves the model after every epoch (or only when the monitored metric improved). The path may contain
 * {epoch}, replaced by the 1-based epoch number. Saves are atomic, so a crash never leaves a torn file.
 * {@link #withOptimizerState()} also saves the optimizer's buffers, so that a fit resumed from the checkpoint
 * (load it, then fit with {@link Fit#initialEpoch}) continues exactly where this one was.
 * Config: {@code {"type": "model_checkpoint", "filepath": "ckpt-{epoch}.d4j", "monitor": "val_loss",
 * "save_best_only": false, "include_optimizer": false}}.
 *
 * <p>Resumable, as {@link EarlyStopping}: with {@code save_best_only} the best monitored value so far decides
 * whether an epoch overwrites the best file, so a fit resumed from a checkpoint ({@link Fit#initialEpoch}) passes
 * {@link #state()} taken after the checkpoint's epoch to {@link #resumeFrom}; a fresh callback would take the
 * resumed fit's first epoch as the best even when it is worse than the file's.
 */
@JsonPropertyOrder({"filepath", "monitor", "save_best_only", "include_optimizer"})
public final class ModelCheckpoint implements ConfigurableCallback {
    private final String pathPattern;
    private final String monitor;
    private final boolean bestOnly;
    private final boolean optimizerState;
    private double best = Double.NaN;
    private int bestEpoch = -1;
    private State resumeFrom;

    /**
     * Where a best-only checkpoint stands after an epoch: the best monitored value saved so far and the 0-based
     * epoch it was saved at (-1: none yet, the value then ignored; a value of NaN, a metric the epoch did not have,
     * is beaten by any epoch, as before the resume).
     */
    public record State(double best, int bestEpoch) {
        public State {
            if (bestEpoch < -1) {
                throw new IllegalArgumentException("a checkpoint state's best epoch is >= -1, got " + bestEpoch);
            }
            if (bestEpoch < 0) {
                best = Double.NaN;
            }
        }
    }

    private ModelCheckpoint(String pathPattern, String monitor, boolean bestOnly, boolean optimizerState) {
        if (pathPattern == null || pathPattern.isBlank()) {
            throw new IllegalArgumentException("a checkpoint needs a file path");
        }
        EpochLog.checkMetricName(monitor);
        this.pathPattern = pathPattern;
        this.monitor = monitor;
        this.bestOnly = bestOnly;
        this.optimizerState = optimizerState;
    }

    @JsonCreator
    static ModelCheckpoint fromConfig(@JsonProperty(value = "filepath", required = true) String filepath,
                                      @JsonProperty("monitor") String monitor,
                                      @JsonProperty("save_best_only") Boolean saveBestOnly,
                                      @JsonProperty("include_optimizer") Boolean includeOptimizer) {
        return new ModelCheckpoint(filepath, monitor == null ? "val_loss" : monitor,
                saveBestOnly != null && saveBestOnly, includeOptimizer != null && includeOptimizer);
    }

    /** Saves after every epoch. */
    public static ModelCheckpoint everyEpoch(String pathPattern) {
        return new ModelCheckpoint(pathPattern, "val_loss", false, false);
    }

    /** Saves only when {@code monitor} improved (lower loss, higher accuracy). */
    public static ModelCheckpoint bestOnly(String pathPattern, String monitor) {
        return new ModelCheckpoint(pathPattern, monitor, true, false);
    }

    /** A copy that also saves the optimizer's buffers (files about four times larger; exact resume). */
    public ModelCheckpoint withOptimizerState() {
        return new ModelCheckpoint(pathPattern, monitor, bestOnly, true);
    }

    public Path pathFor(int epoch) {
        return Path.of(pathPattern.replace("{epoch}", Integer.toString(epoch + 1)));
    }

    @JsonProperty("filepath")
    public String filepath() {
        return pathPattern;
    }

    @JsonProperty("monitor")
    public String monitor() {
        return monitor;
    }

    @JsonProperty("save_best_only")
    public boolean saveBestOnly() {
        return bestOnly;
    }

    @JsonProperty("include_optimizer")
    public boolean includeOptimizer() {
        return optimizerState;
    }

    /** This callback's state after the last epoch it saw. */
    public State state() {
        return new State(best, bestEpoch);
    }

    /** The 0-based epoch of the last best-only save (-1: none yet). */
    public int bestEpoch() {
        return bestEpoch;
    }

    /**
     * Makes the next fit continue from {@code state} (taken with {@link #state()} after the epoch before that fit's
     * initial epoch) instead of from what this callback saw last.
     */
    public ModelCheckpoint resumeFrom(State state) {
        resumeFrom = java.util.Objects.requireNonNull(state, "state");
        return this;
    }

    @Override
    public void onTrainBegin(TrainableModel model, Fit fit, int stepsPerEpoch) {
        State s = resumeFrom;
        resumeFrom = null;
        if (s != null) {
            if (s.bestEpoch() >= fit.initialEpoch()) {
                throw new IllegalArgumentException("the checkpoint state's best epoch " + (s.bestEpoch() + 1)
                        + " is not before the fit's first epoch " + (fit.initialEpoch() + 1)
                        + ": it is not the state of the checkpoint this fit resumes from");
            }
            best = s.best();
            bestEpoch = s.bestEpoch();
        }
    }

    @Override
    public boolean onEpochEnd(TrainableModel model, EpochLog log) {
        if (bestOnly) {
            double v = log.get(monitor);
            boolean max = monitor.contains("accuracy");
            if (!Double.isNaN(best) && (max ? v <= best : v >= best)) {
                return false;
            }
            best = v;
            bestEpoch = log.epoch();
        }
        model.save(pathFor(log.epoch()), optimizerState);
        return false;
    }
}
