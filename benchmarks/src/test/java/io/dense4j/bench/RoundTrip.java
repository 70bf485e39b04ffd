package io.dense4j.bench;

import io.dense4j.bench.device.DeviceBuffer;
import io.dense4j.bench.device.DeviceOps;
import java.util.Arrays;

/**
 * Runs one op of a {@link DeviceOps} on host arrays: upload, run, download, free. The tests compare devices
 * (cpu against the plain-Java baseline, cuda against cpu) through these, so every device is driven alike.
 */
final class RoundTrip {
    private RoundTrip() {}

    /** {pre-activation z, output y} of a Dense layer. */
    static float[][] forward(DeviceOps ops, float[] x, float[] w, float[] b, int n, int in, int out, int act) {
        try (DeviceBuffer xb = ops.upload(x); DeviceBuffer wb = ops.upload(w); DeviceBuffer bb = ops.upload(b);
             DeviceBuffer z = ops.zeros((long) n * out); DeviceBuffer y = ops.zeros((long) n * out)) {
            ops.denseForward(xb, wb, bb, z, y, n, in, out, act);
            return new float[][] {ops.download(z), ops.download(y)};
        }
    }

    static float[] actBackward(DeviceOps ops, float[] z, float[] y, float[] dy, int n, int k, int act) {
        try (DeviceBuffer zb = ops.upload(z); DeviceBuffer yb = ops.upload(y); DeviceBuffer d = ops.upload(dy);
             DeviceBuffer dz = ops.zeros((long) n * k)) {
            ops.activationBackward(zb, yb, d, dz, n, k, act);
            return ops.download(dz);
        }
    }

    /** {dW, db, dx}. */
    static float[][] backward(DeviceOps ops, float[] x, float[] w, float[] dz, int n, int in, int out) {
        try (DeviceBuffer xb = ops.upload(x); DeviceBuffer wb = ops.upload(w); DeviceBuffer d = ops.upload(dz);
             DeviceBuffer dw = ops.zeros((long) in * out); DeviceBuffer db = ops.zeros(out);
             DeviceBuffer dx = ops.zeros((long) n * in)) {
            ops.denseBackward(xb, wb, d, dw, db, dx, n, in, out);
            return new float[][] {ops.download(dw), ops.download(db), ops.download(dx)};
        }
    }

    /** The loss; the gradient w.r.t. the logits lands in {@code gradOut}. */
    static double loss(DeviceOps ops, float[] logits, int[] labels, float[] gradOut, int n, int k) {
        try (DeviceBuffer l = ops.upload(logits); DeviceBuffer lab = ops.uploadInts(labels);
             DeviceBuffer g = ops.zeros((long) n * k)) {
            double loss = ops.softmaxCrossEntropy(l, lab, g, n, k);
            System.arraycopy(ops.download(g), 0, gradOut, 0, n * k);
            return loss;
        }
    }

    static float[] gemm(DeviceOps ops, boolean ta, boolean tb, int m, int n, int k, float[] a, float[] b) {
        try (DeviceBuffer ab = ops.upload(a); DeviceBuffer bb = ops.upload(b); DeviceBuffer c = ops.zeros((long) m * n)) {
            ops.gemm(ta, tb, m, n, k, ab, bb, c);
            return ops.download(c);
        }
    }

    /** Parameters after three steps of optimizer {@code opt} over the common length of p and g. */
    static float[] optimize(DeviceOps ops, String opt, float[] p, float[] g) {
        Object[] c = OptimizerBenchmarks.config(opt);
        int n = Math.min(p.length, g.length);
        try (DeviceBuffer pb = ops.upload(Arrays.copyOf(p, n)); DeviceBuffer gb = ops.upload(Arrays.copyOf(g, n));
             DeviceBuffer s = ops.zeros(3L * n)) {
            for (int step = 1; step <= 3; step++) {
                ops.optimizerStep((Integer) c[0], (float[]) c[1], 0.01f, step, pb, gb, s, n);
            }
            return ops.download(pb);
        }
    }
}
