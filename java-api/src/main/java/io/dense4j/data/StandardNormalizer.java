package io.dense4j.data;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

/**
 * {@link Normalizer#standardize}: {@code (x - mean) / std} per feature.
 * Config: {@code {"type": "standardize", "mean": [...], "std": [...]}} (no lists while not fitted).
 */
@JsonPropertyOrder({"mean", "std"})
@JsonInclude(JsonInclude.Include.NON_NULL)
final class StandardNormalizer extends AffineNormalizer {
    static final String TYPE = "standardize";
    /** Below this a standard deviation is rounding noise of a constant feature (scikit-learn's threshold). */
    private static final double TINY_STD = 10 * Math.ulp(1.0);

    StandardNormalizer() {
    }

    @JsonCreator
    static StandardNormalizer fromConfig(@JsonProperty("mean") float[] mean, @JsonProperty("std") float[] std) {
        StandardNormalizer n = new StandardNormalizer();
        float[][] p = pair(mean, std, "mean", "std");
        if (p != null) {
            for (int j = 0; j < p[1].length; j++) {
                if (p[1][j] <= 0f) {
                    throw new IllegalArgumentException("standardize config \"std\"[" + j + "] must be > 0, got "
                            + p[1][j]);
                }
            }
            n.shift = p[0];
            n.div = p[1];
        }
        return n;
    }

    @Override
    protected void fitFrom(FeatureStats s) {
        double[] m = s.mean();
        double[] sdev = s.std();
        int d = m.length;
        float[] mean = new float[d];
        float[] std = new float[d];
        for (int j = 0; j < d; j++) {
            mean[j] = (float) m[j];
            float sd = (float) sdev[j];
            // a constant feature would divide by ~0; leaving it centred at 0 is what callers expect
            std[j] = sdev[j] < TINY_STD || sd == 0f ? 1f : sd;
        }
        shift = mean;
        div = std;
    }

    @JsonProperty("mean")
    float[] mean() {
        return shift == null ? null : shift.clone();
    }

    @JsonProperty("std")
    float[] std() {
        return div == null ? null : div.clone();
    }

    @Override
    public String toString() {
        return "Normalizer.standardize()" + (isFitted() ? " fitted on " + shift.length + " features" : " (not fitted)");
    }
}
