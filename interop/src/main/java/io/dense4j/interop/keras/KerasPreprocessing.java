package io.dense4j.interop.keras;

import com.fasterxml.jackson.databind.JsonNode;
import io.dense4j.interop.NetworkSpec.Affine;
import io.dense4j.interop.NetworkSpec.Preprocessing;
import io.dense4j.interop.NetworkSpec.Scale;
import io.dense4j.interop.keras.KerasTopology.KLayer;
import io.jhdf.api.Dataset;
import java.util.List;

/** Keras's Rescaling and Normalization layers as Dense4J preprocessing (a scale normalizer, (x - mean) / std). */
final class KerasPreprocessing {
    /** Keras's backend.epsilon(), the floor Normalization puts under sqrt(variance). */
    static final float EPSILON = 1e-7f;

    private KerasPreprocessing() {}

    /**
     * Rescaling(scale, offset): {@code x * scale + offset}. Without an offset, a scale, computed in float32 as Keras
     * does; with one (Rescaling(1/127.5, offset=-1) maps pixels to [-1, 1]), the affine {@code (x - shift) / div}
     * with {@code div = 1/scale}, {@code shift = -offset/scale} for each of the {@code features} inputs (the same
     * map, rounded differently by a few ulps).
     */
    static Preprocessing rescaling(KLayer l, int features) {
        JsonNode c = l.config();
        JsonNode scale = c.get("scale");
        JsonNode offset = c.get("offset");
        if (scale == null || !scale.isNumber() || !Double.isFinite(scale.asDouble())) {
            throw new IllegalArgumentException(l.describe() + " has scale " + scale + ": Dense4J supports one number");
        }
        if (offset == null || offset.isNull() || (offset.isNumber() && offset.asDouble() == 0)) {
            return new Scale((float) scale.asDouble());
        }
        if (!offset.isNumber() || !Double.isFinite(offset.asDouble())) {
            throw new IllegalArgumentException(l.describe() + " has offset " + offset + ": Dense4J supports one number");
        }
        double sc = scale.asDouble();
        if (sc == 0) {
            throw new IllegalArgumentException(l.describe() + " has scale 0: every input maps to its offset");
        }
        float[] shift = new float[features];
        float[] div = new float[features];
        java.util.Arrays.fill(shift, (float) (-offset.asDouble() / sc));
        java.util.Arrays.fill(div, (float) (1 / sc));
        return new Affine(shift, div);
    }

    /**
     * Normalization(axis=-1): (x - mean) / max(sqrt(variance), epsilon), with mean and variance from its config or,
     * when adapted, from its saved variables (mean, variance, count).
     */
    static Preprocessing normalization(KLayer l, List<Dataset> saved, long[] shape, long fileBytes) {
        JsonNode c = l.config();
        if (c.path("invert").asBoolean(false)) {
            throw new IllegalArgumentException(l.describe() + " inverts the normalization; Dense4J does not");
        }
        JsonNode axis = c.get("axis");
        // the feature axis: -1, or its index counting the batch axis (1 for a flat input)
        int last = shape == null ? -1 : shape.length;
        JsonNode a = axis != null && axis.isArray() && axis.size() == 1 ? axis.get(0) : axis;
        boolean lastAxis = a != null && a.isIntegralNumber() && (a.asInt() == -1 || a.asInt() == last);
        if (!lastAxis) {
            throw new IllegalArgumentException(l.describe() + " normalizes over axis " + axis + "; Dense4J normalizes "
                    + "each feature (axis -1)");
        }
        if (shape == null || shape.length != 1) {
            throw new IllegalArgumentException(l.describe() + " needs a flat input of known width, it gets "
                    + (shape == null ? "an undeclared shape" : java.util.Arrays.toString(shape)));
        }
        if (shape[0] > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(l.describe() + " has " + shape[0] + " features");
        }
        int d = (int) shape[0];
        float[] mean;
        float[] variance;
        if (c.hasNonNull("mean")) {
            mean = values(c.get("mean"), d, l, "mean");
            variance = values(c.get("variance"), d, l, "variance");
        } else {
            if (saved == null || saved.size() < 2) {
                throw new IllegalArgumentException(l.describe() + " has neither mean/variance in its config nor saved "
                        + "statistics");
            }
            mean = H5.floats(saved.get(0), new long[] {d}, "the mean of " + l.describe(), fileBytes);
            variance = H5.floats(saved.get(1), new long[] {d}, "the variance of " + l.describe(), fileBytes);
        }
        float[] std = new float[d];
        for (int j = 0; j < d; j++) {
            if (!(variance[j] >= 0)) {
                throw new IllegalArgumentException(l.describe() + " has variance " + variance[j] + " for feature " + j);
            }
            std[j] = Math.max((float) Math.sqrt(variance[j]), EPSILON);
        }
        return new Affine(mean, std);
    }

    private static float[] values(JsonNode v, int d, KLayer l, String what) {
        float[] out = new float[d];
        if (v != null && v.isNumber()) {
            java.util.Arrays.fill(out, (float) v.asDouble());
            return out;
        }
        if (v == null || !v.isArray() || v.size() != d) {
            throw new IllegalArgumentException(l.describe() + " has " + what + " " + v + ", expected " + d + " numbers");
        }
        for (int j = 0; j < d; j++) {
            if (!v.get(j).isNumber()) {
                throw new IllegalArgumentException(l.describe() + " has a non-number in its " + what);
            }
            out[j] = (float) v.get(j).asDouble();
        }
        return out;
    }
}
