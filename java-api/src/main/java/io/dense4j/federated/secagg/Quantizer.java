package io.dense4j.federated.secagg;

import java.util.SplittableRandom;

/**
 * Fixed-point encoding of clipped float vectors into Z_2^32, so that masked vectors can be summed with Java's
 * wrapping {@code int} arithmetic: q = stochasticRound(x · scale), unbiased (E[q] = x · scale). With every
 * |x_i| &lt;= bound and at most {@code summands} vectors, the scale leaves headroom so that the true integer sum
 * stays inside the signed 32-bit range: reading the wrapped sum back as a signed int gives it exactly.
 */
public final class Quantizer {
    private Quantizer() {}

    /** The largest scale for which {@code summands} vectors bounded by {@code bound} cannot overflow. */
    public static double scale(double bound, int summands) {
        if (!(bound > 0) || Double.isInfinite(bound)) {
            throw new IllegalArgumentException("the quantization bound must be finite and > 0, got " + bound);
        }
        if (summands < 1) {
            throw new IllegalArgumentException("summands must be >= 1, got " + summands);
        }
        // each |q_i| <= bound·scale + 1 (rounding up), and summands of them must stay below 2^31
        double scale = (Integer.MAX_VALUE / (double) summands - 1) / bound;
        if (scale < 1) {
            throw new IllegalArgumentException(summands + " summands of values up to " + bound
                    + " leave no precision in 32 bits");
        }
        return scale;
    }

    /** Quantizes x (values clamped to [−bound, bound]) by stochastic rounding. */
    public static int[] quantize(float[] x, double bound, double scale, SplittableRandom random) {
        int[] q = new int[x.length];
        for (int i = 0; i < x.length; i++) {
            double v = x[i];
            if (!Double.isFinite(v)) {
                throw new IllegalArgumentException("value " + i + " is " + v);
            }
            v = Math.max(-bound, Math.min(bound, v)) * scale;
            double floor = Math.floor(v);
            q[i] = (int) floor + (random.nextDouble() < v - floor ? 1 : 0);
        }
        return q;
    }

    /** The real values of a (wrapped) sum of quantized vectors. */
    public static double[] dequantize(int[] sum, double scale) {
        double[] out = new double[sum.length];
        for (int i = 0; i < sum.length; i++) {
            out[i] = sum[i] / scale;
        }
        return out;
    }
}
