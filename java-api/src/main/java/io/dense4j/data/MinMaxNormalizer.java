package io.dense4j.data;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

/**
 * {@link Normalizer#minMax}: {@code (x - min) / (max - min)} per feature, a zero range taken as 1.
 * Config: {@code {"type": "minmax", "min": [...], "max": [...]}} (no lists while not fitted).
 */
@JsonPropertyOrder({"min", "max"})
@JsonInclude(JsonInclude.Include.NON_NULL)
final class MinMaxNormalizer extends AffineNormalizer {
    static final String TYPE = "minmax";
    private float[] max;

    MinMaxNormalizer() {
    }

    @JsonCreator
    static MinMaxNormalizer fromConfig(@JsonProperty("min") float[] min, @JsonProperty("max") float[] max) {
        MinMaxNormalizer n = new MinMaxNormalizer();
        float[][] p = pair(min, max, "min", "max");
        if (p != null) {
            n.set(p[0], p[1]);
        }
        return n;
    }

    @Override
    protected void fitFrom(FeatureStats s) {
        double[] min = s.min();
        double[] max = s.max();
        float[] lo = new float[min.length];
        float[] hi = new float[lo.length];
        for (int j = 0; j < lo.length; j++) {
            // the values are floats, so their min and max are exactly representable
            lo[j] = (float) min[j];
            hi[j] = (float) max[j];
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

    @JsonProperty("min")
    float[] min() {
        return shift == null ? null : shift.clone();
    }

    @JsonProperty("max")
    float[] max() {
        return max == null ? null : max.clone();
    }

    @Override
    public String toString() {
        return "Normalizer.minMax()" + (isFitted() ? " fitted on " + shift.length + " features" : " (not fitted)");
    }
}
