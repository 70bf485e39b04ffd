package io.dense4j.data;

import java.util.LinkedHashMap;
import java.util.Map;

/** {@link Normalizer#minMax}: {@code (x - min) / (max - min)} per feature, a zero range taken as 1. */
final class MinMaxNormalizer extends AffineNormalizer {
    static final String TYPE = "minmax";
    private float[] max;

    static Normalizer fromConfig(Map<String, ?> config) {
        MinMaxNormalizer n = new MinMaxNormalizer();
        float[][] p = pair(config, "min", "max");
        if (p != null) {
            n.set(p[0], p[1]);
        }
        return n;
    }

    @Override
    protected void fitFrom(Stats s) {
        float[] lo = new float[s.min().length];
        float[] hi = new float[lo.length];
        for (int j = 0; j < lo.length; j++) {
            // the values are floats, so their min and max are exactly representable
            lo[j] = (float) s.min()[j];
            hi[j] = (float) s.max()[j];
        }
        set(lo, hi);
    }

    private void set(float[] lo, float[] hi) {
        float[] range = new float[lo.length];
        for (int j = 0; j < lo.length; j++) {
            if (hi[j] < lo[j]) {
                throw new IllegalArgumentException("min-max normalizer: max " + hi[j] + " < min " + lo[j]
                        + " for feature " + j);
            }
            float r = hi[j] - lo[j];
            range[j] = r > 0f && Float.isFinite(r) ? r : 1f;
        }
        shift = lo;
        max = hi;
        div = range;
    }

    @Override
    public Map<String, Object> config() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("type", TYPE);
        if (isFitted()) {
            c.put("min", toList(shift));
            c.put("max", toList(max));
        }
        return c;
    }

    @Override
    public String toString() {
        return "Normalizer.minMax()" + (isFitted() ? " fitted on " + shift.length + " features" : " (not fitted)");
    }
}
