package io.dense4j.data;

import io.dense4j.tensor.Tensor;
import java.util.Arrays;

/**
 * Per-feature statistics of training rows, from which a {@link Normalizer} is fitted: minimum, maximum, mean and
 * population standard deviation. {@link #of(Tensor)} computes them from rows in memory; a distributed trainer
 * computes the same sums over its partitions (count, sum, min, max, then squared deviations about the global
 * mean) and builds them with the constructor, so that {@link Normalizer#fit(FeatureStats)} gives the normalizer a
 * single-process fit would.
 *
 * @param rows rows the statistics cover (&gt; 0)
 * @param min  per feature
 * @param max  per feature
 * @param mean per feature
 * @param std  per feature, population (divided by {@code rows}), as scikit-learn's StandardScaler
 */
public record FeatureStats(long rows, double[] min, double[] max, double[] mean, double[] std) {
    private static final int CHUNK_VALUES = 1 << 16;

    public FeatureStats {
        if (rows <= 0) {
            throw new IllegalArgumentException("cannot fit a normalizer on " + rows + " rows");
        }
        int d = min.length;
        if (max.length != d || mean.length != d || std.length != d) {
            throw new IllegalArgumentException("feature statistics of different lengths: min " + d + ", max "
                    + max.length + ", mean " + mean.length + ", std " + std.length);
        }
        for (int j = 0; j < d; j++) {
            if (!(Double.isFinite(min[j]) && Double.isFinite(max[j]) && Double.isFinite(mean[j])
                    && Double.isFinite(std[j]) && std[j] >= 0 && min[j] <= max[j])) {
                throw new IllegalArgumentException("feature " + j + " has invalid statistics: min " + min[j] + ", max "
                        + max[j] + ", mean " + mean[j] + ", std " + std[j]);
            }
        }
        min = min.clone();
        max = max.clone();
        mean = mean.clone();
        std = std.clone();
    }

    /** Number of features. */
    public int features() {
        return min.length;
    }

    @Override
    public double[] min() {
        return min.clone();
    }

    @Override
    public double[] max() {
        return max.clone();
    }

    @Override
    public double[] mean() {
        return mean.clone();
    }

    @Override
    public double[] std() {
        return std.clone();
    }

    /**
     * The statistics of a float32 feature tensor {@code [N, d]}, in double precision, in two passes (mean, then
     * squared deviations: a numerically sound variance), chunk by chunk without a Java copy of the whole tensor.
     *
     * @throws IllegalArgumentException no rows, or a non-finite value (naming its row and feature)
     */
    public static FeatureStats of(Tensor features) {
        int d = AffineNormalizer.checkReadable(features);
        long n = features.dim(0);
        if (n == 0) {
            throw new IllegalArgumentException("cannot fit a normalizer on 0 rows");
        }
        double[] min = new double[d];
        double[] max = new double[d];
        double[] sum = new double[d];
        Arrays.fill(min, Double.POSITIVE_INFINITY);
        Arrays.fill(max, Double.NEGATIVE_INFINITY);
        long total = features.size();
        int rowsPerChunk = Math.max(1, CHUNK_VALUES / Math.max(d, 1));
        float[] buf = new float[rowsPerChunk * d];
        for (long off = 0; off < total; off += buf.length) {
            int len = (int) Math.min(buf.length, total - off);
            features.read(off, buf, 0, len);
            for (int i = 0; i < len; i++) {
                int j = i % d;
                float v = buf[i];
                if (!Float.isFinite(v)) {
                    throw new IllegalArgumentException("feature " + j + " of row " + ((off + i) / d)
                            + " is " + v + "; cannot fit a normalizer on non-finite values");
                }
                min[j] = Math.min(min[j], v);
                max[j] = Math.max(max[j], v);
                sum[j] += v;
            }
        }
        double[] mean = new double[d];
        for (int j = 0; j < d; j++) {
            mean[j] = sum[j] / n;
        }
        double[] sq = new double[d];
        for (long off = 0; off < total; off += buf.length) {
            int len = (int) Math.min(buf.length, total - off);
            features.read(off, buf, 0, len);
            for (int i = 0; i < len; i++) {
                int j = i % d;
                double dev = buf[i] - mean[j];
                sq[j] += dev * dev;
            }
        }
        double[] std = new double[d];
        for (int j = 0; j < d; j++) {
            std[j] = Math.sqrt(sq[j] / n);
        }
        return new FeatureStats(n, min, max, mean, std);
    }
}
