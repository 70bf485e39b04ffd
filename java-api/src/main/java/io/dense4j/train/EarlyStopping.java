package io.dense4j.train;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

/**
 * Stops when the monitored metric has not improved by more than {@code minDelta} for {@code patience}
 * epochs; with {@code restoreBestWeights} the model ends with the weights of its best epoch (Keras semantics).
 * Config: {@code {"type": "early_stopping", "monitor": "val_loss", "patience": 3, "min_delta": 0.0,
 * "restore_best_weights": true}}.
 */
@JsonPropertyOrder({"monitor", "patience", "min_delta", "restore_best_weights"})
public final class EarlyStopping implements ConfigurableCallback {
    private final String monitor;
    private final int patience;
    private final double minDelta;
    private final boolean restoreBest;
    private final boolean maximize;
    private double best;
    private int wait;
    private int bestEpoch = -1;
    private float[] bestWeights;

    public EarlyStopping(String monitor, int patience, double minDelta, boolean restoreBestWeights) {
        if (patience < 0) {
            throw new IllegalArgumentException("patience must be >= 0");
        }
        EpochLog.checkMetricName(monitor);
        this.monitor = monitor;
        this.patience = patience;
        this.minDelta = Math.abs(minDelta);
        this.restoreBest = restoreBestWeights;
        this.maximize = monitor.contains("accuracy");
    }

    @JsonCreator
    static EarlyStopping fromConfig(@JsonProperty("monitor") String monitor, @JsonProperty("patience") Integer patience,
                                    @JsonProperty("min_delta") Double minDelta,
                                    @JsonProperty("restore_best_weights") Boolean restoreBestWeights) {
        return new EarlyStopping(monitor == null ? "val_loss" : monitor, patience == null ? 0 : patience,
                minDelta == null ? 0 : minDelta, restoreBestWeights != null && restoreBestWeights);
    }

    /** Monitors val_loss. */
    public static EarlyStopping onValLoss(int patience, boolean restoreBestWeights) {
        return new EarlyStopping("val_loss", patience, 0, restoreBestWeights);
    }

    @Override
    public void onTrainBegin(TrainableModel model, Fit fit, int stepsPerEpoch) {
        best = maximize ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
        wait = 0;
        bestEpoch = -1;
        bestWeights = null;
    }

    @Override
    public boolean onEpochEnd(TrainableModel model, EpochLog log) {
        double v = log.get(monitor);
        if (Double.isNaN(v)) {
            throw new IllegalStateException("early stopping monitors " + monitor
                    + " but it is not available (no validation data?)");
        }
        boolean improved = maximize ? v > best + minDelta : v < best - minDelta;
        if (improved) {
            best = v;
            bestEpoch = log.epoch();
            wait = 0;
            if (restoreBest) {
                bestWeights = model.parameters();
            }
            return false;
        }
        wait++;
        return wait > patience;
    }

    @Override
    public void onTrainEnd(TrainableModel model, History history) {
        if (restoreBest && bestWeights != null && !history.epochs().isEmpty()
                && bestEpoch != history.last().epoch()) {
            model.setParameters(bestWeights);
        }
    }

    @JsonProperty("monitor")
    public String monitor() {
        return monitor;
    }

    @JsonProperty("patience")
    public int patience() {
        return patience;
    }

    @JsonProperty("min_delta")
    public double minDelta() {
        return minDelta;
    }

    @JsonProperty("restore_best_weights")
    public boolean restoreBestWeights() {
        return restoreBest;
    }

    public int bestEpoch() {
        return bestEpoch;
    }

    public double bestValue() {
        return best;
    }
}
