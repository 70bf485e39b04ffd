package io.dense4j.data;

import io.dense4j.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.javacpp.FloatPointer;

/** {@link Normalizer#scale}: multiplies every value by a constant; nothing to fit. */
final class ScaleNormalizer implements Normalizer {
    static final String TYPE = "scale";
    private static final int CHUNK = 1 << 16;
    private final float factor;

    ScaleNormalizer(float factor) {
        if (!Float.isFinite(factor) || factor == 0f) {
            throw new IllegalArgumentException("scale factor must be finite and non-zero, got " + factor);
        }
        this.factor = factor;
    }

    static Normalizer fromConfig(Map<String, ?> config) {
        if (!(config.get("scale") instanceof Number n)) {
            throw new IllegalArgumentException("scale normalizer config needs a number \"scale\", got " + config);
        }
        return new ScaleNormalizer(n.floatValue());
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
    public boolean isFitted() {
        return true;
    }

    @Override
    public void apply(Tensor features) {
        AffineNormalizer.checkFeatures(features);
        FloatPointer p = features.floats();
        float[] buf = new float[CHUNK];
        try {
            for (long off = 0; off < features.size(); off += CHUNK) {
                int len = (int) Math.min(CHUNK, features.size() - off);
                p.position(off).get(buf, 0, len);
                for (int i = 0; i < len; i++) {
                    buf[i] *= factor;
                }
                p.position(off).put(buf, 0, len);
            }
        } finally {
            p.position(0);
        }
    }

    @Override
    public void applyRow(float[] row) {
        for (int i = 0; i < row.length; i++) {
            row[i] *= factor;
        }
    }

    @Override
    public Map<String, Object> config() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("type", TYPE);
        c.put("scale", factor);
        return c;
    }

    @Override
    public String toString() {
        return "Normalizer.scale(" + factor + ")";
    }
}
