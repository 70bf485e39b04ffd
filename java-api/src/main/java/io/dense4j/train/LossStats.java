package io.dense4j.train;

/**
 * Sums over some rows as the kernels report them: the loss summed over the rows, the number of correct decisions
 * (rows for categorical losses, elements for binary cross-entropy; 0 for mean squared error) and the row count.
 * Sums, not means, so that chunks and shards add up: a distributed trainer adds its workers' stats.
 */
public record LossStats(double lossSum, double correct, double rows) {
    public static final LossStats ZERO = new LossStats(0, 0, 0);

    public LossStats plus(LossStats o) {
        return new LossStats(lossSum + o.lossSum, correct + o.correct, rows + o.rows);
    }

    /** Mean loss per row (NaN for no rows). */
    public double meanLoss() {
        return lossSum / rows;
    }
}
