package io.dense4j.data;

import io.dense4j.tensor.Tensor;
import java.util.Arrays;

/**
 * Base of the fitted normalizers: per feature {@code x' = (x - shift[j]) / div[j]}, with the statistics
 * computed in double precision over the native data in chunks (no Java copy of the whole tensor).
 */
abstract class AffineNormalizer implements Normalizer {
    private static final int CHUNK_VALUES = 1 << 16;

    /** Subtrahend per feature, null until fitted. */
    protected float[] shift;
    /** Divisor per feature (never 0), null until fitted. */
    protected float[] div;

    /** Sets {@link #shift} and {@link #div} from the per-feature statistics. */
    protected abstract void fitFrom(Stats stats);

    /** Per-feature minimum, maximum, mean and population standard deviation. */
    record Stats(double[] min, double[] max, double[] mean, double[] std) {
    }

    @Override
    public Normalizer fit(Dataset train) {
        return fit(train.features());
    }

    @Override
    public Normalizer fit(Tensor features) {
        fitFrom(stats(features));
        return this;
    }

    @Override
    public boolean isFitted() {
        return shift != null;
    }

    @Override
    public void apply(Tensor features) {
        if (!isFitted()) {
            throw new IllegalStateException(getClass().getSimpleName()
                    + " is not fitted: call fit(train) before apply (or load it with fromConfig)");
        }
        int d = checkFeatures(features);
        if (d != shift.length) {
            throw new IllegalArgumentException("normalizer was fitted on " + shift.length + " features, tensor has "
                    + d + " " + Arrays.toString(features.shape()));
        }
        long total = features.size();
        int rowsPerChunk = Math.max(1, CHUNK_VALUES / Math.max(d, 1));
        float[] buf = new float[rowsPerChunk * d];
        for (long off = 0; off < total; off += buf.length) {
            int len = (int) Math.min(buf.length, total - off);
            features.read(off, buf, 0, len);
            // chunks hold whole rows, so index i is feature i % d
            for (int i = 0; i < len; i++) {
                int j = i % d;
                buf[i] = (buf[i] - shift[j]) / div[j];
            }
            features.write(off, buf, 0, len);
        }
    }

    @Override
    public void applyRow(float[] row) {
        if (!isFitted()) {
            throw new IllegalStateException(getClass().getSimpleName() + " is not fitted: call fit(train) before apply");
        }
        if (row.length != shift.length) {
            throw new IllegalArgumentException("normalizer was fitted on " + shift.length + " features, row has " + row.length);
        }
        for (int j = 0; j < row.length; j++) {
            row[j] = (row[j] - shift[j]) / div[j];
        }
    }

    static int checkFeatures(Tensor features) {
        if (features.dtype() != Tensor.DType.FLOAT32 || features.rank() != 2) {
            throw new IllegalArgumentException("features must be FLOAT32 [N, d], got " + features.dtype() + " "
                    + Arrays.toString(features.shape()));
        }
        return Math.toIntExact(features.dim(1));
    }

    /** Two passes (mean, then squared deviations) for a numerically sound variance. */
    static Stats stats(Tensor features) {
        int d = checkFeatures(features);
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
        {
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
            return new Stats(min, max, mean, std);
        }
    }

    // ---------------------------------------------------------------- config helpers

    /**
     * The two parameter lists of a fitted config, or null for an unfitted one (neither); half of them, lists of
     * different lengths or a non-finite value are errors.
     */
    static float[][] pair(float[] x, float[] y, String a, String b) {
        if (x == null && y == null) {
            return null;
        }
        if (x == null || y == null) {
            throw new IllegalArgumentException("normalizer config has \"" + (x != null ? a : b) + "\" without \""
                    + (x != null ? b : a) + "\"");
        }
        if (x.length != y.length) {
            throw new IllegalArgumentException("normalizer config \"" + a + "\" has " + x.length + " values, \""
                    + b + "\" " + y.length);
        }
        checkFinite(x, a);
        checkFinite(y, b);
        return new float[][] {x.clone(), y.clone()};
    }

    private static void checkFinite(float[] v, String key) {
        for (int i = 0; i < v.length; i++) {
            if (!Float.isFinite(v[i])) {
                throw new IllegalArgumentException("normalizer config \"" + key + "\"[" + i + "] is " + v[i]);
            }
        }
    }
}
