package io.dense4j.train;

import io.dense4j.Sequential;

/**
 * Stops when the monitored metric has not improved by more than {@code minDelta} for {@code patience}
 * epochs; with {@code restoreBestWeights} the model ends with the weights of its best epoch (Keras semantics).
 */
public final class EarlyStopping implements Callback {
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
        this.monitor = monitor;
        this.patience = patience;
        this.minDelta = Math.abs(minDelta);
        this.restoreBest = restoreBestWeights;
        this.maximize = monitor.contains("accuracy");
    }

    /** Monitors val_loss. */
    public static EarlyStopping onValLoss(int patience, boolean restoreBestWeights) {
        return new EarlyStopping("val_loss", patience, 0, restoreBestWeights);
    }

    @Override
    public void onTrainBegin(Sequential model, Fit fit, int stepsPerEpoch) {
        best = maximize ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
        wait = 0;
        bestEpoch = -1;
        bestWeights = null;
    }

    @Override
    public boolean onEpochEnd(Sequential model, EpochLog log) {
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
    public void onTrainEnd(Sequential model, History history) {
        if (restoreBest && bestWeights != null && bestEpoch != history.last().epoch()) {
            model.setParameters(bestWeights);
        }
    }

    public int bestEpoch() {
        return bestEpoch;
    }

    public double bestValue() {
        return best;
    }
}
