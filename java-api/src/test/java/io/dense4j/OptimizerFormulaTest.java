package io.dense4j;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.nativelib.CpuKernels;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each optimizer over several steps against its formula in the PyTorch documentation (torch.optim), in
 * float64. The native parameters are compared through their total change, which is what the formula sets.
 */
class OptimizerFormulaTest {
    static Stream<Arguments> cases() {
        List<Arguments> a = new ArrayList<>();
        float[][] sgd = {{0, 0, 0, 0, 0}, {0.9f, 0, 0, 0, 0}, {0.9f, 0.1f, 0.01f, 0, 0}, {0.8f, 0, 0.05f, 1, 0}};
        float[][] adam = {{0.9f, 0.999f, 1e-8f, 0, 0}, {0.8f, 0.99f, 1e-6f, 0.01f, 0}, {0.9f, 0.999f, 1e-8f, 0.1f, 1}};
        float[][] rms = {{0.99f, 1e-8f, 0, 0, 0}, {0.9f, 1e-6f, 0.01f, 0.9f, 0}, {0.95f, 1e-8f, 0, 0, 1},
                {0.99f, 1e-8f, 0.02f, 0.5f, 1}};
        for (int n : new int[] {1, 33, 1000}) {
            for (float[] h : sgd) {
                a.add(Arguments.of(CpuKernels.OPT_SGD, h, n));
            }
            for (float[] h : adam) {
                a.add(Arguments.of(CpuKernels.OPT_ADAM, h, n));
                a.add(Arguments.of(CpuKernels.OPT_ADAMW, h, n));
            }
            for (float[] h : rms) {
                a.add(Arguments.of(CpuKernels.OPT_RMSPROP, h, n));
            }
        }
        return a.stream();
    }

    @ParameterizedTest(name = "optimizer {0} hp={1} n={2}")
    @MethodSource("cases")
    void matchesPyTorchFormula(int kind, float[] hp, int n) {
        Random r = new Random(kind * 7919L + n + (long) (hp[0] * 1000) + (long) (hp[3] * 100));
        int steps = 6;
        float lr = 0.01f;
        double[] p = new double[n];
        float[] pf = new float[n];
        for (int i = 0; i < n; i++) {
            pf[i] = (float) (r.nextGaussian());
            p[i] = pf[i];
        }
        double[] s0 = new double[n];
        double[] s1 = new double[n];
        double[] s2 = new double[n];
        try (FloatPointer params = new FloatPointer(pf); FloatPointer grads = new FloatPointer(n);
             FloatPointer state = new FloatPointer((long) n * CpuKernels.OPT_STATE_PER_PARAM).zero();
             FloatPointer h = new FloatPointer(hp)) {
            for (int t = 1; t <= steps; t++) {
                float[] g = new float[n];
                for (int i = 0; i < n; i++) {
                    g[i] = (float) r.nextGaussian();
                }
                grads.put(g);
                CpuKernels.d4j_optimizer_step(kind, h, lr, t, params, grads, state, n);
                for (int i = 0; i < n; i++) {
                    reference(kind, hp, lr, t, p, g, s0, s1, s2, i);
                }
            }
            float[] got = new float[n];
            params.get(got);
            double num = 0;
            double den = 0;
            for (int i = 0; i < n; i++) {
                double dRef = p[i] - pf[i];
                double dGot = (double) got[i] - pf[i];
                assertTrue(Float.isFinite(got[i]), "parameter " + i + " is " + got[i]);
                num += (dGot - dRef) * (dGot - dRef);
                den += dRef * dRef;
            }
            double rel = Math.sqrt(num / den);
            assertTrue(rel < 2e-4, "relative error of the parameter change " + rel);
        }
    }

    /** One element's update, written from the PyTorch documentation's pseudo-code. */
    static void reference(int kind, float[] hpf, double lr, int t, double[] p, float[] gf, double[] s0, double[] s1,
                          double[] s2, int i) {
        double g = gf[i];
        double[] hp = new double[5];
        for (int k = 0; k < 5; k++) {
            hp[k] = hpf[k];
        }
        switch (kind) {
            case CpuKernels.OPT_SGD -> {
                double mu = hp[0], tau = hp[1], wd = hp[2];
                boolean nesterov = hp[3] != 0;
                g += wd * p[i];
                if (mu != 0) {
                    s0[i] = t > 1 ? mu * s0[i] + (1 - tau) * g : g;
                    g = nesterov ? g + mu * s0[i] : s0[i];
                }
                p[i] -= lr * g;
            }
            case CpuKernels.OPT_ADAM, CpuKernels.OPT_ADAMW -> {
                double b1 = hp[0], b2 = hp[1], eps = hp[2], wd = hp[3];
                boolean ams = hp[4] != 0;
                if (kind == CpuKernels.OPT_ADAMW) {
                    p[i] -= lr * wd * p[i];
                } else {
                    g += wd * p[i];
                }
                s0[i] = b1 * s0[i] + (1 - b1) * g;
                s1[i] = b2 * s1[i] + (1 - b2) * g * g;
                double mHat = s0[i] / (1 - Math.pow(b1, t));
                double v = s1[i];
                if (ams) {
                    s2[i] = Math.max(s2[i], s1[i]);
                    v = s2[i];
                }
                double vHat = v / (1 - Math.pow(b2, t));
                p[i] -= lr * mHat / (Math.sqrt(vHat) + eps);
            }
            case CpuKernels.OPT_RMSPROP -> {
                double alpha = hp[0], eps = hp[1], wd = hp[2], mu = hp[3];
                boolean centered = hp[4] != 0;
                g += wd * p[i];
                s0[i] = alpha * s0[i] + (1 - alpha) * g * g;
                double v = s0[i];
                if (centered) {
                    s2[i] = alpha * s2[i] + (1 - alpha) * g;
                    v -= s2[i] * s2[i];
                }
                if (mu > 0) {
                    s1[i] = mu * s1[i] + g / (Math.sqrt(v) + eps);
                    p[i] -= lr * s1[i];
                } else {
                    p[i] -= lr * g / (Math.sqrt(v) + eps);
                }
            }
            default -> throw new IllegalArgumentException();
        }
    }

    @Test
    void clippingByValueThenGlobalNorm() {
        Random r = new Random(5);
        int n = 1000;
        float[] g = new float[n];
        for (int i = 0; i < n; i++) {
            g[i] = (float) (r.nextGaussian() * 3);
        }
        double norm = 0;
        float[] clipped = new float[n];
        for (int i = 0; i < n; i++) {
            clipped[i] = Math.max(-2f, Math.min(2f, g[i]));
            norm += (double) clipped[i] * clipped[i];
        }
        norm = Math.sqrt(norm);
        double coef = Math.min(1.0, 5.0 / (norm + 1e-6));
        try (FloatPointer p = new FloatPointer(g)) {
            float reported = CpuKernels.d4j_clip_gradients(p, n, 5f, 2f);
            assertTrue(Math.abs(reported - norm) < 1e-4 * norm, "reported norm " + reported + " vs " + norm);
            for (int i = 0; i < n; i++) {
                assertTrue(Math.abs(p.get(i) - clipped[i] * coef) < 1e-6, "element " + i);
            }
        }
    }
}
