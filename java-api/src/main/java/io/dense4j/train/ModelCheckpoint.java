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
 */
@JsonPropertyOrder({"filepath", "monitor", "save_best_only", "include_optimizer"})
public final class ModelCheckpoint implements ConfigurableCallback {
    private final String pathPattern;
    private final String monitor;
    private final boolean bestOnly;
    private final boolean optimizerState;
    private double best = Double.NaN;

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

    @Override
    public boolean onEpochEnd(TrainableModel model, EpochLog log) {
        if (bestOnly) {
            double v = log.get(monitor);
            boolean max = monitor.contains("accuracy");
            if (!Double.isNaN(best) && (max ? v <= best : v >= best)) {
                return false;
            }
            best = v;
        }
        model.save(pathFor(log.epoch()), optimizerState);
        return false;
    }
}
