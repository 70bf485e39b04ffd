package io.dense4j;

import io.dense4j.nativelib.CpuKernels;
import java.util.Random;

/**
 * The float64 loss of a whole network, for GradientCheckTest: finite differences of it are the oracle of the
 * gradient that training through the Java API (Sequential.fit) produces, so that the Java side's parameter layout,
 * op codes and logits handling are checked end to end. The ops themselves are checked natively, each against the
 * one float64 reference per op in native/reference/ (native/README.md).
 */
final class Reference {
    private Reference() {}

    /** The kernels' codes (native/include/dense4j.h, checked by OpCatalogueTest), named as the reference uses them. */
    static final int LINEAR = CpuKernels.ACT_LINEAR, RELU = CpuKernels.ACT_RELU, SIGMOID = CpuKernels.ACT_SIGMOID,
            TANH = CpuKernels.ACT_TANH, GELU = CpuKernels.ACT_GELU, SOFTMAX = CpuKernels.ACT_SOFTMAX;

    static double[] random(Random r, int n, double scale) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = (r.nextDouble() * 2 - 1) * scale;
        }
        return v;
    }

    static float[] toFloat(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        return f;
    }

    static double[] toDouble(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return d;
    }

    /** z = x.W + b: x [n,in], W [in,out]. */
    static double[] affine(double[] x, double[] w, double[] b, int n, int in, int out) {
        double[] z = new double[n * out];
        for (int r = 0; r < n; r++) {
            for (int j = 0; j < out; j++) {
                double s = b[j];
                for (int i = 0; i < in; i++) {
                    s += x[r * in + i] * w[i * out + j];
                }
                z[r * out + j] = s;
            }
        }
        return z;
    }

    static double erf(double x) {
        // Abramowitz-Stegun 7.1.26 is too coarse for 1e-6 checks; use a series / continued fraction
        double t = Math.abs(x);
        double y;
        if (t < 2.5) {
            double sum = t;
            double term = t;
            for (int k = 1; k < 60; k++) {
                term *= -t * t / k;
                sum += term / (2 * k + 1);
            }
            y = 2 / Math.sqrt(Math.PI) * sum;
        } else {
            // erfc continued fraction (Lentz), converges fast for t >= 2.5
            double f = t;
            double c = t;
            double d = 0;
            for (int k = 1; k < 200; k++) {
                double a = k / 2.0;
                d = t + a * d;
                d = 1 / d;
                c = t + a / c;
                double delta = c * d;
                f *= delta;
                if (Math.abs(delta - 1) < 1e-16) {
                    break;
                }
            }
            y = 1 - Math.exp(-t * t) / Math.sqrt(Math.PI) / f;
        }
        return x < 0 ? -y : y;
    }

    static double[] activate(double[] z, int n, int k, int act) {
        double[] y = new double[z.length];
        for (int r = 0; r < n; r++) {
            if (act == SOFTMAX) {
                double m = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < k; j++) {
                    m = Math.max(m, z[r * k + j]);
                }
                double s = 0;
                for (int j = 0; j < k; j++) {
                    s += Math.exp(z[r * k + j] - m);
                }
                for (int j = 0; j < k; j++) {
                    y[r * k + j] = Math.exp(z[r * k + j] - m) / s;
                }
                continue;
            }
            for (int j = 0; j < k; j++) {
                double v = z[r * k + j];
                y[r * k + j] = switch (act) {
                    case LINEAR -> v;
                    case RELU -> Math.max(v, 0);
                    case SIGMOID -> 1 / (1 + Math.exp(-v));
                    case TANH -> Math.tanh(v);
                    case GELU -> 0.5 * v * (1 + erf(v / Math.sqrt(2)));
                    default -> throw new IllegalArgumentException();
                };
            }
        }
        return y;
    }

    /**
     * Mean loss over n rows of the network output. out is the final PRE-activation for the CE losses and
     * BCE (fused), the activated output for MSE, matching dense4j.h.
     */
    static double loss(int lossKind, double[] y, int[] labels, double[] targets, int n, int k) {
        double total = 0;
        for (int r = 0; r < n; r++) {
            switch (lossKind) {
                case CpuKernels.LOSS_SPARSE_CCE -> total -= Math.log(y[r * k + labels[r]]);
                case CpuKernels.LOSS_CCE -> {
                    for (int j = 0; j < k; j++) {
                        total -= targets[r * k + j] * Math.log(y[r * k + j]);
                    }
                }
                case CpuKernels.LOSS_BCE -> {
                    double s = 0;
                    for (int j = 0; j < k; j++) {
                        double p = y[r * k + j];
                        double t = targets[r * k + j];
                        s -= t * Math.log(p) + (1 - t) * Math.log(1 - p);
                    }
                    total += s / k;
                }
                case CpuKernels.LOSS_MSE -> {
                    double s = 0;
                    for (int j = 0; j < k; j++) {
                        double d = y[r * k + j] - targets[r * k + j];
                        s += d * d;
                    }
                    total += s / k;
                }
                default -> throw new IllegalArgumentException();
            }
        }
        return total / n;
    }

    /** Mean loss of a whole MLP (no dropout) in float64; params in the Dense4J layout W0, b0, W1, b1, ... */
    static double networkLoss(double[] params, int[] sizes, int[] acts, int lossKind, double[] x, int[] labels,
                              double[] targets, int n) {
        double[] h = x;
        int off = 0;
        for (int l = 0; l < acts.length; l++) {
            int in = sizes[l];
            int out = sizes[l + 1];
            double[] w = java.util.Arrays.copyOfRange(params, off, off + in * out);
            double[] b = java.util.Arrays.copyOfRange(params, off + in * out, off + in * out + out);
            off += in * out + out;
            h = activate(affine(h, w, b, n, in, out), n, out, acts[l]);
        }
        return loss(lossKind, h, labels, targets, n, sizes[sizes.length - 1]);
    }

    /** Relative L2 error ||a - ref|| / ||ref|| (ref must not be all zero). */
    static double relError(float[] a, double[] ref) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < ref.length; i++) {
            if (Float.isNaN(a[i])) {
                return Double.POSITIVE_INFINITY;
            }
            num += (a[i] - ref[i]) * (a[i] - ref[i]);
            den += ref[i] * ref[i];
        }
        return Math.sqrt(num / Math.max(den, 1e-300));
    }
}
