package io.dense4j;

import static io.dense4j.Reference.*;
import static org.junit.jupiter.api.Assertions.*;

import io.dense4j.nativelib.CpuKernels;
import java.util.Random;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import java.util.stream.Stream;
import java.util.ArrayList;
import java.util.List;

/** Every native op against the float64 reference on random inputs of awkward sizes; outputs poisoned first. */
class NativeOpsTest {
    static final int[][] SHAPES = {{1, 1, 1}, {31, 33, 1}, {33, 784, 31}, {1000, 31, 33}, {32, 784, 128}, {1, 784, 1000}};

    static Stream<Arguments> shapesAndActivations() {
        List<Arguments> a = new ArrayList<>();
        for (int[] s : SHAPES) {
            for (int act = 0; act <= 5; act++) {
                a.add(Arguments.of(s[0], s[1], s[2], act));
            }
        }
        return a.stream();
    }

    static FloatPointer ptr(double[] v) {
        return new FloatPointer(toFloat(v));
    }

    static FloatPointer poisoned(int n) {
        FloatPointer p = new FloatPointer(n);
        for (int i = 0; i < n; i++) {
            p.put(i, Float.NaN);
        }
        return p;
    }

    static float[] get(FloatPointer p, int n) {
        float[] f = new float[n];
        p.get(f);
        return f;
    }

    @ParameterizedTest(name = "forward n={0} in={1} out={2} act={3}")
    @MethodSource("shapesAndActivations")
    void denseForwardMatchesReference(int n, int in, int out, int act) {
        Random r = new Random(31L * n + 7L * in + out + 1000L * act);
        double[] x = random(r, n * in, 1);
        double[] w = random(r, in * out, Math.sqrt(3.0 / in));
        double[] b = random(r, out, 0.5);
        double[] z = affine(toDouble(toFloat(x)), toDouble(toFloat(w)), toDouble(toFloat(b)), n, in, out);
        double[] y = activate(z, n, out, act);
        try (FloatPointer px = ptr(x); FloatPointer pw = ptr(w); FloatPointer pb = ptr(b);
             FloatPointer pz = poisoned(n * out); FloatPointer py = poisoned(n * out)) {
            CpuKernels.d4j_dense_forward(px, pw, pb, pz, py, n, in, out, act);
            float[] gotZ = get(pz, n * out);
            float[] gotY = get(py, n * out);
            for (float v : gotY) {
                assertFalse(Float.isNaN(v), "an output element was not written (or is NaN)");
            }
            assertTrue(relError(gotZ, z) < 1e-5, "pre-activation rel error " + relError(gotZ, z));
            assertTrue(relError(gotY, y) < 1e-5, "activation rel error " + relError(gotY, y));
        }
    }

    @ParameterizedTest(name = "backward n={0} in={1} out={2}")
    @MethodSource("shapes")
    void denseBackwardMatchesReference(int n, int in, int out) {
        Random r = new Random(n * 1000L + in * 10L + out);
        double[] x = toDouble(toFloat(random(r, n * in, 1)));
        double[] w = toDouble(toFloat(random(r, in * out, 0.1)));
        double[] dz = toDouble(toFloat(random(r, n * out, 1)));
        double[] dw = new double[in * out];
        double[] db = new double[out];
        double[] dx = new double[n * in];
        for (int row = 0; row < n; row++) {
            for (int j = 0; j < out; j++) {
                double g = dz[row * out + j];
                db[j] += g;
                for (int i = 0; i < in; i++) {
                    dw[i * out + j] += x[row * in + i] * g;
                    dx[row * in + i] += g * w[i * out + j];
                }
            }
        }
        try (FloatPointer px = ptr(x); FloatPointer pw = ptr(w); FloatPointer pdz = ptr(dz);
             FloatPointer pdw = poisoned(in * out); FloatPointer pdb = poisoned(out); FloatPointer pdx = poisoned(n * in)) {
            CpuKernels.d4j_dense_backward(px, pw, pdz, pdw, pdb, pdx, n, in, out);
            assertTrue(relError(get(pdw, in * out), dw) < 1e-5, "dW");
            assertTrue(relError(get(pdb, out), db) < 1e-5, "db");
            assertTrue(relError(get(pdx, n * in), dx) < 1e-5, "dx");
        }
    }

    static Stream<Arguments> shapes() {
        return Stream.of(SHAPES).map(s -> Arguments.of(s[0], s[1], s[2]));
    }

    @ParameterizedTest(name = "activation backward act={0}")
    @MethodSource("activations")
    void activationBackwardMatchesFiniteDifferences(int act) {
        int n = 33;
        int k = 31;
        Random r = new Random(act);
        double[] z = toDouble(toFloat(random(r, n * k, 2)));
        if (act == RELU) {
            for (int i = 0; i < z.length; i++) {
                if (Math.abs(z[i]) < 1e-2) {
                    z[i] = 0.5; // keep away from the kink
                }
            }
        }
        double[] dy = toDouble(toFloat(random(r, n * k, 1)));
        double[] y = activate(z, n, k, act);
        // reference: d/dz of sum(dy . act(z)) by central differences in float64
        double[] ref = new double[n * k];
        double h = 1e-6;
        for (int i = 0; i < z.length; i++) {
            double keep = z[i];
            z[i] = keep + h;
            double up = dot(dy, activate(z, n, k, act));
            z[i] = keep - h;
            double down = dot(dy, activate(z, n, k, act));
            z[i] = keep;
            ref[i] = (up - down) / (2 * h);
        }
        try (FloatPointer pz = ptr(z); FloatPointer py = ptr(y); FloatPointer pdy = ptr(dy);
             FloatPointer pdz = poisoned(n * k)) {
            CpuKernels.d4j_activation_backward(pz, py, null, pdy, pdz, n, k, act);
            double err = relError(get(pdz, n * k), ref);
            assertTrue(err < 1e-5, "activation " + act + " backward rel error " + err);
        }
    }

    static Stream<Integer> activations() {
        return Stream.of(0, 1, 2, 3, 4, 5);
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }

    @ParameterizedTest(name = "loss {0}, n={1}, k={2}")
    @MethodSource("losses")
    void fusedLossMatchesReference(int lossKind, int n, int k) {
        Random r = new Random(lossKind * 100 + n + k);
        double[] out = toDouble(toFloat(random(r, n * k, 3)));
        int[] labels = new int[n];
        double[] targets = new double[n * k];
        for (int i = 0; i < n; i++) {
            labels[i] = r.nextInt(k);
            for (int j = 0; j < k; j++) {
                targets[i * k + j] = switch (lossKind) {
                    case 1 -> j == labels[i] ? 1 : 0;
                    case 2 -> r.nextBoolean() ? 1 : 0;
                    default -> r.nextGaussian();
                };
            }
        }
        int act = switch (lossKind) {
            case 0, 1 -> SOFTMAX;
            case 2 -> SIGMOID;
            default -> LINEAR;
        };
        double refLoss = Reference.loss(lossKind, activate(out, n, k, act), labels, targets, n, k);
        // central differences of the mean loss; a row's loss depends only on that row, so each element is
        // differentiated through its own row's loss divided by n
        double[] refGrad = new double[n * k];
        double h = 1e-6;
        for (int row = 0; row < n; row++) {
            double[] o = java.util.Arrays.copyOfRange(out, row * k, row * k + k);
            double[] t = java.util.Arrays.copyOfRange(targets, row * k, row * k + k);
            int[] l = {labels[row]};
            for (int j = 0; j < k; j++) {
                double keep = o[j];
                o[j] = keep + h;
                double up = Reference.loss(lossKind, activate(o, 1, k, act), l, t, 1, k);
                o[j] = keep - h;
                double down = Reference.loss(lossKind, activate(o, 1, k, act), l, t, 1, k);
                o[j] = keep;
                refGrad[row * k + j] = (up - down) / (2 * h) / n;
            }
        }
        try (FloatPointer po = ptr(out); IntPointer pl = new IntPointer(labels); FloatPointer pt = ptr(targets);
             FloatPointer pg = poisoned(n * k); LongPointer correct = new LongPointer(1)) {
            double sum = CpuKernels.d4j_loss(lossKind, po, lossKind == 0 ? pl : null, lossKind == 0 ? null : pt, pg,
                    null, n, k, 1f, correct);
            assertEquals(refLoss, sum / n, 1e-5 * Math.max(1, Math.abs(refLoss)), "loss value");
            double err = relError(get(pg, n * k), refGrad);
            assertTrue(err < 1e-4, "loss " + lossKind + " gradient rel error " + err);
            if (lossKind <= 1) {
                long expect = 0;
                for (int i = 0; i < n; i++) {
                    int best = 0;
                    for (int j = 1; j < k; j++) {
                        if (out[i * k + j] > out[i * k + best]) {
                            best = j;
                        }
                    }
                    expect += best == labels[i] ? 1 : 0;
                }
                assertEquals(expect, correct.get(0), "correct count");
            }
        }
    }

    static Stream<Arguments> losses() {
        List<Arguments> a = new ArrayList<>();
        for (int loss = 0; loss <= 3; loss++) {
            for (int[] nk : new int[][] {{1, 2}, {31, 10}, {33, 1}, {1000, 33}}) {
                if (loss <= 1 && nk[1] < 2) {
                    continue;
                }
                a.add(Arguments.of(loss, nk[0], nk[1]));
            }
        }
        return a.stream();
    }

    @org.junit.jupiter.api.Test
    void softmaxCrossEntropyIsStableForHugeLogits() {
        float[] logits = {1000f, -1000f, 0f, 3e4f};
        try (FloatPointer po = new FloatPointer(logits); IntPointer pl = new IntPointer(new int[] {0, 0});
             FloatPointer pg = poisoned(4)) {
            double sum = CpuKernels.d4j_loss(0, po, pl, null, pg, null, 2, 2, 1f, null);
            assertTrue(Double.isFinite(sum), "loss must stay finite for large logits");
            // row 0: label 0 has the larger logit by 2000, loss ~ 0; row 1: label 0 trails by 3e4, loss ~ 3e4
            assertEquals(3e4, sum, 1e-2);
            for (int i = 0; i < 4; i++) {
                assertTrue(Float.isFinite(pg.get(i)), "gradient must be finite");
            }
        }
    }
}
