package io.dense4j.data;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import io.dense4j.tensor.Tensor;

/** {@link Normalizer#scale}: multiplies every value by a constant; nothing to fit. */
final class ScaleNormalizer implements Normalizer {
    static final String TYPE = "scale";
    private static final int CHUNK = 1 << 16;
    private final float factor;

    @JsonCreator
    ScaleNormalizer(@JsonProperty(value = "scale", required = true) float factor) {
        if (!Float.isFinite(factor) || factor == 0f) {
            throw new IllegalArgumentException("scale factor must be finite and non-zero, got " + factor);
        }
        this.factor = factor;
    }

    /** The factor, as the config names it. */
    @JsonProperty("scale")
    float scale() {
        return factor;
    }

    @Override
    public Normalizer fit(Dataset train) {
        return this;
    }

    @Override
    public Normalizer fit(Tensor features) {
        return this;
    }

    @Override
    public Normalizer fit(FeatureStats stats) {
        return this;
    }

    @Override
    public boolean isFitted() {
        return true;
    }

    @Override
    public void apply(Tensor features) {
        AffineNormalizer.checkFeatures(features);
        float[] buf = new float[CHUNK];
        for (long off = 0; off < features.size(); off += CHUNK) {
            int len = (int) Math.min(CHUNK, features.size() - off);
            features.read(off, buf, 0, len);
            for (int i = 0; i < len; i++) {
                buf[i] *= factor;
            }
            features.write(off, buf, 0, len);
        }
    }

    @Override
    public void applyRow(float[] row) {
        for (int i = 0; i < row.length; i++) {
            row[i] *= factor;
        }
    }

    @Override
    public String toString() {
        return "Normalizer.scale(" + factor + ")";
    }
}
