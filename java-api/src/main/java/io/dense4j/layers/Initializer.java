package io.dense4j.layers;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;
import java.util.SplittableRandom;

/** Weight initializers with Keras's definitions (fan_in = inputs, fan_out = units). In configs: the lower-case name. */
public enum Initializer {
    /** U(-l, l), l = sqrt(6 / (fan_in + fan_out)); Keras's default for Dense kernels */
    GLOROT_UNIFORM,
    /** N(0, sqrt(2 / fan_in)) truncated at two standard deviations, as Keras's he_normal */
    HE_NORMAL,
    /** U(-l, l), l = sqrt(6 / fan_in) */
    HE_UNIFORM,
    ZEROS;

    /** Fills {@code out} (length fanIn * fanOut) from {@code rng}. */
    public void fill(float[] out, int fanIn, int fanOut, SplittableRandom rng) {
        switch (this) {
            case GLOROT_UNIFORM -> uniform(out, Math.sqrt(6.0 / (fanIn + fanOut)), rng);
            case HE_UNIFORM -> uniform(out, Math.sqrt(6.0 / fanIn), rng);
            case HE_NORMAL -> {
                // Keras truncates at 2 sigma and rescales so the truncated distribution keeps variance 2/fan_in
                double sigma = Math.sqrt(2.0 / fanIn) / 0.87962566103423978;
                for (int i = 0; i < out.length; i++) {
                    double g;
                    do {
                        g = gaussian(rng);
                    } while (Math.abs(g) > 2.0);
                    out[i] = (float) (g * sigma);
                }
            }
            case ZEROS -> java.util.Arrays.fill(out, 0f);
        }
    }

    private static void uniform(float[] out, double limit, SplittableRandom rng) {
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) ((rng.nextDouble() * 2 - 1) * limit);
        }
    }

    /** Box-Muller; SplittableRandom has no nextGaussian on Java 17. */
    private static double gaussian(SplittableRandom rng) {
        double u1 = rng.nextDouble();
        double u2 = rng.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
    }

    @JsonValue
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    @JsonCreator
    public static Initializer fromName(String name) {
        for (Initializer i : values()) {
            if (i.configName().equalsIgnoreCase(name.trim())) {
                return i;
            }
        }
        throw new IllegalArgumentException("unknown initializer '" + name
                + "': expected glorot_uniform, he_normal, he_uniform or zeros");
    }
}
