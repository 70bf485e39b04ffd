package io.dense4j.train;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

/**
 * Stops when the monitored metric has not improved by more than {@code minDelta} for {@code patience}
 * epochs; with {@code restoreBestWeights} the model ends with the weights of its best epoch (Keras semantics).
 * Config: {@code {"type": "early_stopping", "monitor": "val_loss", "patience": 3, "min_delta": 0.0,
 * "restore_best_weights": true}}.
 *
 * <p>Resumable: {@link #state()} after an epoch and {@link #resumeFrom} before a fit resumed at the next epoch
 * ({@link Fit#initialEpoch}) continue the patience count, the best value and the best weights exactly, so a fit
 * interrupted inside a patience window and resumed stops at the epoch, with the weights, of the uninterrupted one
 * (PyTorch Lightning keeps its callbacks' state in its checkpoints for the same reason).
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
    private State resumeFrom;

    /**
     * Where early stopping stands after an epoch: the epochs since the last improvement, the best monitored value
     * (ignored while there is no best epoch), the 0-based epoch it was reached at (-1: none yet) and, with {@code restore_best_weights}, a
     * copy of that epoch's weights (else null).
     */
    public record State(int epochsWithoutImprovement, double best, int bestEpoch, float[] bestWeights) {
        public State {
            if (epochsWithoutImprovement < 0 || bestEpoch < -1 || Double.isNaN(best)) {
                throw new IllegalArgumentException("an early-stopping state needs epochs without improvement >= 0, "
                        + "best epoch >= -1 and a best value; got " + epochsWithoutImprovement + ", " + bestEpoch + ", "
                        + best);
            }
            if (bestEpoch < 0 && bestWeights != null) {
                throw new IllegalArgumentException("best weights without a best epoch");
            }
        }
    }

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

    /** This callback's state after the last epoch it saw (the best weights copied). */
    public State state() {
        return new State(wait, best, bestEpoch, bestWeights == null ? null : bestWeights.clone());
    }

    /**
     * Makes the next fit continue from {@code state} (taken with {@link #state()} after the epoch before that fit's
     * initial epoch) instead of starting afresh; later fits start afresh again.
     *
     * @throws IllegalArgumentException the state lacks the best weights this callback restores
     */
    public EarlyStopping resumeFrom(State state) {
        if (restoreBest && state.bestEpoch() >= 0 && state.bestWeights() == null) {
            throw new IllegalArgumentException("early stopping restores its best weights, but the state to resume "
                    + "from has none for its best epoch " + (state.bestEpoch() + 1));
        }
        resumeFrom = state;
        return this;
    }

    /** Epochs since the monitored metric last improved: training stops once this exceeds the patience. */
    public int epochsWithoutImprovement() {
        return wait;
    }

    @Override
    public void onTrainBegin(TrainableModel model, Fit fit, int stepsPerEpoch) {
        State s = resumeFrom;
        resumeFrom = null;
        if (s != null) {
            float[] w = restoreBest && s.bestWeights() != null ? s.bestWeights().clone() : null;
            if (w != null && w.length != model.parameters().length) {
                throw new IllegalArgumentException("the early-stopping state holds " + w.length
                        + " best weights; the model has " + model.parameters().length);
            }
            best = s.bestEpoch() >= 0 ? s.best() : maximize ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
            wait = s.epochsWithoutImprovement();
            bestEpoch = s.bestEpoch();
            bestWeights = w;
            return;
        }
        best = maximize ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
        wait = 0;
        bestEpoch = -1;
        bestWeights = null;
    }

    @Override
    public boolean onEpochEnd(TrainableModel model, EpochLog log) {
        double v = log.get(monitor);
        if (Double.isNaN(v)) {
            throw new IllegalStateException("early stopping monitors " + monitor + " but it is not available"
                    + (monitor.startsWith("val_") ? ": it needs validation data (Fit.validationSplit or validationData; "
                    + "on the command line --validation-split 0.1), or monitor " + monitor.substring(4) + " instead"
                    : ""));
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
