package io.dense4j.federated;

import java.util.Arrays;
import java.util.List;

/**
 * The robust aggregators' statistics, per coordinate, in float64: the median, and the trimmed mean (the mean of what
 * is left once the max(1, ⌊β·n⌋) smallest and as many largest values are dropped). Every update counts once, whatever its
 * example weight, so a client cannot buy influence by claiming many examples; a minority of clients cannot move a
 * coordinate outside the range of the others' values (Yin, Chen, Ramchandran, Bartlett, ICML 2018).
 */
final class CoordinateWise {
    /** Fewest updates a robust statistic is taken of: with two, the median and any trimmed mean are the mean. */
    static final int MIN_UPDATES = 3;

    private CoordinateWise() {}

    /**
     * @param updates  each client's uploaded vector (its model change times its weight, then maybe its weight)
     * @param weights  each update's weight (the vector is divided by it: the client's own model change)
     * @param parameters the model's parameter count (the leading coordinates of each vector)
     */
    static double[] aggregate(FederatedConfig.Aggregator aggregator, double trimFraction, List<float[]> updates,
                              double[] weights, int parameters) {
        int n = updates.size();
        if (n == 0) {
            throw new IllegalArgumentException("no update to aggregate");
        }
        // at least one value off each end (⌊0.2·4⌋ = 0 trimmed nothing: one client moved every coordinate of 4)
        int trim = aggregator == FederatedConfig.Aggregator.TRIMMED_MEAN && trimFraction > 0
                ? Math.max(1, (int) Math.floor(trimFraction * n)) : 0;
        if (aggregator != FederatedConfig.Aggregator.MEAN && n < MIN_UPDATES) {
            throw new IllegalArgumentException("the " + aggregator.key() + " of " + n + " updates is their mean: it needs "
                    + "at least " + MIN_UPDATES + " to leave a client's values out");
        }
        double[] out = new double[parameters];
        double[] column = new double[n];
        for (int i = 0; i < parameters; i++) {
            for (int k = 0; k < n; k++) {
                column[k] = updates.get(k)[i] / weights[k];
            }
            Arrays.sort(column);
            out[i] = switch (aggregator) {
                case MEDIAN -> n % 2 == 1 ? column[n / 2] : (column[n / 2 - 1] + column[n / 2]) / 2;
                case TRIMMED_MEAN -> mean(column, trim, n - trim);
                case MEAN -> throw new IllegalArgumentException("the mean is aggregated as a running sum");
            };
        }
        return out;
    }

    private static double mean(double[] sorted, int from, int to) {
        double s = 0;
        for (int k = from; k < to; k++) {
            s += sorted[k];
        }
        return s / (to - from);
    }
}
