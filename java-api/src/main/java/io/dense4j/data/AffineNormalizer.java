package io.dense4j.data;

import io.dense4j.tensor.Tensor;
import java.util.Arrays;

/**
 * Base of the fitted normalizers: per feature {@code x' = (x - shift[j]) / div[j]}, fitted from
 * {@link FeatureStats} (computed in double precision over the native data in chunks, or summed over the partitions
 * of a distributed data set).
 */
abstract class AffineNormalizer implements Normalizer {
    private static final int CHUNK_VALUES = 1 << 16;

    /** Subtrahend per feature, null until fitted. */
    protected float[] shift;
    /** Divisor per feature (never 0), null until fitted. */
    protected float[] div;

    /** Sets {@link #shift} and {@link #div} from the per-feature statistics. */
    protected abstract void fitFrom(FeatureStats stats);

    @Override
    public Normalizer fit(Dataset train) {
        return fit(train.features());
    }

    @Override
    public Normalizer fit(Tensor features) {
        return fit(FeatureStats.of(features));
    }

    @Override
    public Normalizer fit(FeatureStats stats) {
        fitFrom(stats);
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

    /** Features normalized in place: FLOAT32 {@code [N, d]} (bytes hold no other values than their own). */
    static int checkFeatures(Tensor features) {
        if (features.dtype() == Tensor.DType.UINT8 && features.rank() == 2) {
            throw new IllegalArgumentException("features are UINT8 bytes (pixels / " + features.divisor()
                    + "), which cannot hold normalized values: normalize a float32 copy (Dataset.floatCopy(), "
                    + "Tensor.toFloat32())");
        }
        return checkReadable(features);
    }

    /** Features read as floats (statistics): FLOAT32, or UINT8 as the floats its bytes stand for. */
    static int checkReadable(Tensor features) {
        if (features.dtype() == Tensor.DType.INT32 || features.rank() != 2) {
            throw new IllegalArgumentException("features must be FLOAT32 (or UINT8) [N, d], got " + features.dtype()
                    + " " + Arrays.toString(features.shape()));
        }
        return Math.toIntExact(features.dim(1));
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
