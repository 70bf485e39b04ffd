package io.dense4j.bench.device;

import io.dense4j.nativelib.CpuKernels;
import java.util.SplittableRandom;

/**
 * The plain-Java baseline: the same ops as the native kernels written as simple loops over float[] (the loop
 * orders a careful Java programmer would pick, so that HotSpot can vectorise the inner loops, and nothing
 * cleverer: no blocking, no threads). It shows what the native kernels buy.
 */
public final class JavaOps implements DeviceOps {
    /** The kernels' codes (dense4j.h via the binding), so that the same arguments drive every device. */
    static final int LINEAR = CpuKernels.ACT_LINEAR, RELU = CpuKernels.ACT_RELU, SIGMOID = CpuKernels.ACT_SIGMOID,
            TANH = CpuKernels.ACT_TANH, SOFTMAX = CpuKernels.ACT_SOFTMAX;
    static final int SGD = CpuKernels.OPT_SGD, ADAM = CpuKernels.OPT_ADAM, ADAMW = CpuKernels.OPT_ADAMW,
            RMSPROP = CpuKernels.OPT_RMSPROP;

    /** A float[] or int[] buffer. */
    static final class Buf implements DeviceBuffer {
        final float[] f;
        final int[] i;

        Buf(float[] f, int[] i) {
            this.f = f;
            this.i = i;
        }

        @Override
        public long size() {
            return f != null ? f.length : i.length;
        }

        @Override
        public void close() {
        }
    }

    private static float[] f(DeviceBuffer d) {
        return d == null ? null : ((Buf) d).f;
    }

    private static int[] ints(DeviceBuffer d) {
        return ((Buf) d).i;
    }

    @Override
    public String name() {
        return "java";
    }

    @Override
    public String description() {
        return "plain Java loops (single thread), " + System.getProperty("java.vm.name") + " "
                + System.getProperty("java.version");
    }

    @Override
    public void setThreads(int threads) {
    }

    @Override
    public DeviceBuffer upload(float[] values) {
        return new Buf(values.clone(), null);
    }

    @Override
    public DeviceBuffer uploadInts(int[] values) {
        return new Buf(null, values.clone());
    }

    @Override
    public DeviceBuffer zeros(long n) {
        return new Buf(new float[Math.toIntExact(n)], null);
    }

    @Override
    public float[] download(DeviceBuffer b) {
        return f(b).clone();
    }

    @Override
    public void synchronize() {
    }

    @Override
    public void denseForward(DeviceBuffer x, DeviceBuffer w, DeviceBuffer b, DeviceBuffer z, DeviceBuffer y,
                             int n, int in, int out, int act) {
        forward(f(x), 0, f(w), 0, f(b), 0, f(z), f(y), n, in, out, act);
    }

    /** y = act(x.W + b) with x at xOff, W at wOff, b at bOff; z (may be null) gets the pre-activation. */
    static void forward(float[] x, int xOff, float[] w, int wOff, float[] b, int bOff, float[] z, float[] y,
                        int n, int in, int out, int act) {
        for (int i = 0; i < n; i++) {
            int yr = i * out;
            System.arraycopy(b, bOff, y, yr, out);
            for (int p = 0; p < in; p++) {
                float xv = x[xOff + i * in + p];
                int wr = wOff + p * out;
                for (int j = 0; j < out; j++) {
                    y[yr + j] += xv * w[wr + j];
                }
            }
        }
        if (z != null) {
            System.arraycopy(y, 0, z, 0, n * out);
        }
        activate(y, n, out, act);
    }

    static void activate(float[] y, int n, int k, int act) {
        int count = n * k;
        switch (act) {
            case LINEAR -> { }
            case RELU -> {
                for (int i = 0; i < count; i++) {
                    y[i] = Math.max(y[i], 0f);
                }
            }
            case SIGMOID -> {
                for (int i = 0; i < count; i++) {
                    y[i] = (float) (1 / (1 + Math.exp(-y[i])));
                }
            }
            case TANH -> {
                for (int i = 0; i < count; i++) {
                    y[i] = (float) Math.tanh(y[i]);
                }
            }
            case SOFTMAX -> {
                for (int r = 0; r < n; r++) {
                    int o = r * k;
                    float max = y[o];
                    for (int j = 1; j < k; j++) {
                        max = Math.max(max, y[o + j]);
                    }
                    float sum = 0;
                    for (int j = 0; j < k; j++) {
                        y[o + j] = (float) Math.exp(y[o + j] - max);
                        sum += y[o + j];
                    }
                    float inv = 1 / sum;
                    for (int j = 0; j < k; j++) {
                        y[o + j] *= inv;
                    }
                }
            }
            default -> throw new IllegalArgumentException("activation " + act + " is not in the Java baseline");
        }
    }

    @Override
    public void denseBackward(DeviceBuffer x, DeviceBuffer w, DeviceBuffer dz, DeviceBuffer dw, DeviceBuffer db,
                              DeviceBuffer dx, int n, int in, int out) {
        backward(f(x), 0, f(w), 0, f(dz), f(dw), 0, f(db), 0, f(dx), n, in, out);
    }

    /** dW = x^T.dz, db = column sums of dz, dx = dz.W^T when dx != null. */
    static void backward(float[] x, int xOff, float[] w, int wOff, float[] dz, float[] dw, int dwOff, float[] db,
                         int dbOff, float[] dx, int n, int in, int out) {
        java.util.Arrays.fill(dw, dwOff, dwOff + in * out, 0f);
        java.util.Arrays.fill(db, dbOff, dbOff + out, 0f);
        for (int i = 0; i < n; i++) {
            int zr = i * out;
            for (int p = 0; p < in; p++) {
                float xv = x[xOff + i * in + p];
                int wr = dwOff + p * out;
                for (int j = 0; j < out; j++) {
                    dw[wr + j] += xv * dz[zr + j];
                }
            }
            for (int j = 0; j < out; j++) {
                db[dbOff + j] += dz[zr + j];
            }
        }
        if (dx != null) {
            for (int i = 0; i < n; i++) {
                int zr = i * out;
                for (int p = 0; p < in; p++) {
                    int wr = wOff + p * out;
                    float s = 0;
                    for (int j = 0; j < out; j++) {
                        s += dz[zr + j] * w[wr + j];
                    }
                    dx[i * in + p] = s;
                }
            }
        }
    }

    @Override
    public void activationBackward(DeviceBuffer z, DeviceBuffer y, DeviceBuffer dy, DeviceBuffer dz, int n, int k, int act) {
        activationBackward(f(y), f(dy), f(dz), n, k, act);
    }

    static void activationBackward(float[] y, float[] dy, float[] dz, int n, int k, int act) {
        int count = n * k;
        switch (act) {
            case LINEAR -> System.arraycopy(dy, 0, dz, 0, count);
            case RELU -> {
                for (int i = 0; i < count; i++) {
                    dz[i] = y[i] > 0f ? dy[i] : 0f;
                }
            }
            case SIGMOID -> {
                for (int i = 0; i < count; i++) {
                    dz[i] = dy[i] * y[i] * (1 - y[i]);
                }
            }
            case TANH -> {
                for (int i = 0; i < count; i++) {
                    dz[i] = dy[i] * (1 - y[i] * y[i]);
                }
            }
            case SOFTMAX -> {
                for (int r = 0; r < n; r++) {
                    int o = r * k;
                    float dot = 0;
                    for (int j = 0; j < k; j++) {
                        dot += dy[o + j] * y[o + j];
                    }
                    for (int j = 0; j < k; j++) {
                        dz[o + j] = y[o + j] * (dy[o + j] - dot);
                    }
                }
            }
            default -> throw new IllegalArgumentException("activation " + act + " is not in the Java baseline");
        }
    }

    @Override
    public double softmaxCrossEntropy(DeviceBuffer logits, DeviceBuffer labels, DeviceBuffer grad, int n, int k) {
        return softmaxCrossEntropy(f(logits), ints(labels), 0, f(grad), n, k);
    }

    /** Stable softmax + cross-entropy over logits [n,k]; grad = (p - onehot) / n; returns the loss sum. */
    static double softmaxCrossEntropy(float[] logits, int[] labels, int labelOff, float[] grad, int n, int k) {
        double loss = 0;
        float scale = 1f / n;
        for (int r = 0; r < n; r++) {
            int o = r * k;
            float max = logits[o];
            for (int j = 1; j < k; j++) {
                max = Math.max(max, logits[o + j]);
            }
            float sum = 0;
            for (int j = 0; j < k; j++) {
                float e = (float) Math.exp(logits[o + j] - max);
                grad[o + j] = e;
                sum += e;
            }
            int label = labels[labelOff + r];
            loss += Math.log(sum) - (logits[o + label] - max);
            float inv = scale / sum;
            for (int j = 0; j < k; j++) {
                grad[o + j] *= inv;
            }
            grad[o + label] -= scale;
        }
        return loss;
    }

    @Override
    public void optimizerStep(int kind, float[] hp, float lr, long step, DeviceBuffer params, DeviceBuffer grads,
                              DeviceBuffer state, long n) {
        optimizerStep(kind, hp, lr, step, f(params), f(grads), f(state), (int) n);
    }

    /** The torch.optim formulas (no amsgrad, no centered RMSprop); state is [3n]: moments at 0, n, 2n. */
    static void optimizerStep(int kind, float[] hp, float lr, long step, float[] p, float[] g, float[] s, int n) {
        switch (kind) {
            case SGD -> {
                float mu = hp[0], damp = hp[1], wd = hp[2];
                boolean nesterov = hp[3] != 0;
                for (int i = 0; i < n; i++) {
                    float gi = g[i] + wd * p[i];
                    if (mu != 0) {
                        float b = step == 1 ? gi : mu * s[i] + (1 - damp) * gi;
                        s[i] = b;
                        gi = nesterov ? gi + mu * b : b;
                    }
                    p[i] -= lr * gi;
                }
            }
            case ADAM, ADAMW -> {
                float b1 = hp[0], b2 = hp[1], eps = hp[2], wd = hp[3];
                float c1 = (float) (1 - Math.pow(b1, step));
                float c2 = (float) Math.sqrt(1 - Math.pow(b2, step));
                for (int i = 0; i < n; i++) {
                    float gi = g[i];
                    if (kind == ADAM) {
                        gi += wd * p[i];
                    } else {
                        p[i] -= lr * wd * p[i];
                    }
                    float m = b1 * s[i] + (1 - b1) * gi;
                    float v = b2 * s[n + i] + (1 - b2) * gi * gi;
                    s[i] = m;
                    s[n + i] = v;
                    p[i] -= lr * (m / c1) / ((float) Math.sqrt(v) / c2 + eps);
                }
            }
            case RMSPROP -> {
                float alpha = hp[0], eps = hp[1], wd = hp[2], mu = hp[3];
                for (int i = 0; i < n; i++) {
                    float gi = g[i] + wd * p[i];
                    float v = alpha * s[i] + (1 - alpha) * gi * gi;
                    s[i] = v;
                    float upd = gi / ((float) Math.sqrt(v) + eps);
                    if (mu != 0) {
                        upd = mu * s[n + i] + upd;
                        s[n + i] = upd;
                    }
                    p[i] -= lr * upd;
                }
            }
            default -> throw new IllegalArgumentException("optimizer " + kind);
        }
    }

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k, DeviceBuffer a, DeviceBuffer b, DeviceBuffer c) {
        gemm(transA, transB, m, n, k, f(a), f(b), f(c));
    }

    /** Row-major C[m,n] = op(A).op(B), loop order chosen per transpose case so the inner loop is contiguous. */
    static void gemm(boolean transA, boolean transB, int m, int n, int k, float[] a, float[] b, float[] c) {
        if (!transB) {
            java.util.Arrays.fill(c, 0, m * n, 0f);
            if (!transA) { // A [m,k]
                for (int i = 0; i < m; i++) {
                    for (int p = 0; p < k; p++) {
                        float av = a[i * k + p];
                        for (int j = 0; j < n; j++) {
                            c[i * n + j] += av * b[p * n + j];
                        }
                    }
                }
            } else { // A stored [k,m]
                for (int p = 0; p < k; p++) {
                    for (int i = 0; i < m; i++) {
                        float av = a[p * m + i];
                        for (int j = 0; j < n; j++) {
                            c[i * n + j] += av * b[p * n + j];
                        }
                    }
                }
            }
        } else { // B stored [n,k]: dot products
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    float s = 0;
                    for (int p = 0; p < k; p++) {
                        s += (transA ? a[p * m + i] : a[i * k + p]) * b[j * k + p];
                    }
                    c[i * n + j] = s;
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------ whole network

    /** Glorot-uniform kernels, zero biases, in the contiguous layout W0, b0, W1, b1, ... */
    public static float[] initParams(int[] sizes, long seed) {
        int count = 0;
        for (int l = 0; l + 1 < sizes.length; l++) {
            count += sizes[l] * sizes[l + 1] + sizes[l + 1];
        }
        float[] p = new float[count];
        SplittableRandom rng = new SplittableRandom(seed);
        int off = 0;
        for (int l = 0; l + 1 < sizes.length; l++) {
            int in = sizes[l], out = sizes[l + 1];
            double limit = Math.sqrt(6.0 / (in + out));
            for (int i = 0; i < in * out; i++) {
                p[off + i] = (float) rng.nextDouble(-limit, limit);
            }
            off += in * out + out;
        }
        return p;
    }

    @Override
    public Net createNet(int[] sizes, int[] acts, int maxBatch, int optimizer, float[] hp, long seed) {
        return new JavaNet(sizes, acts, maxBatch, optimizer, hp, seed);
    }

    /** The training engine in plain Java: gather, forward, fused loss, backward, one optimizer update. */
    static final class JavaNet implements Net {
        final int[] sizes;
        final int[] acts;
        final int layers;
        final int optimizer;
        final float[] hp;
        final float[] params;
        final float[] grads;
        final float[] state;
        final int[] wOff;
        final int[] bOff;
        final float[][] ys; // ys[0] = gathered input, ys[l+1] = layer l output
        final float[][] ds; // gradient w.r.t. layer l's pre-activation
        final int[] batchLabels;
        long step;

        JavaNet(int[] sizes, int[] acts, int maxBatch, int optimizer, float[] hp, long seed) {
            this.sizes = sizes.clone();
            this.acts = acts.clone();
            this.layers = acts.length;
            this.optimizer = optimizer;
            this.hp = hp.clone();
            this.params = initParams(sizes, seed);
            this.grads = new float[params.length];
            this.state = new float[3 * params.length];
            wOff = new int[layers];
            bOff = new int[layers];
            int off = 0;
            ys = new float[layers + 1][];
            ds = new float[layers][];
            ys[0] = new float[maxBatch * sizes[0]];
            for (int l = 0; l < layers; l++) {
                wOff[l] = off;
                bOff[l] = off + sizes[l] * sizes[l + 1];
                off = bOff[l] + sizes[l + 1];
                ys[l + 1] = new float[maxBatch * sizes[l + 1]];
                ds[l] = new float[maxBatch * sizes[l + 1]];
            }
            batchLabels = new int[maxBatch];
        }

        void forwardRows(float[] x, int xOff, int n) {
            float[] in = x;
            int inOff = xOff;
            for (int l = 0; l < layers; l++) {
                // the last layer's softmax is fused into the loss during training; here it is applied
                JavaOps.forward(in, inOff, params, wOff[l], params, bOff[l], null, ys[l + 1], n, sizes[l], sizes[l + 1], acts[l]);
                in = ys[l + 1];
                inOff = 0;
            }
        }

        @Override
        public double train(DeviceBuffer xb, DeviceBuffer labelsb, DeviceBuffer orderb, long nOrder, long first,
                            int batch, int nBatches, float lr) {
            float[] x = f(xb);
            int[] labels = ints(labelsb);
            int[] order = ints(orderb);
            int in0 = sizes[0];
            int k = sizes[layers];
            double lossSum = 0;
            for (int s = 0; s < nBatches; s++) {
                int start = (int) (first + (long) s * batch);
                int n = (int) Math.min(batch, nOrder - start);
                for (int r = 0; r < n; r++) {
                    int row = order[start + r];
                    System.arraycopy(x, row * in0, ys[0], r * in0, in0);
                    batchLabels[r] = labels[row];
                }
                for (int l = 0; l < layers; l++) {
                    int act = l == layers - 1 ? LINEAR : acts[l]; // logits: softmax is fused into the loss
                    JavaOps.forward(ys[l], 0, params, wOff[l], params, bOff[l], null, ys[l + 1], n, sizes[l], sizes[l + 1], act);
                }
                lossSum += softmaxCrossEntropy(ys[layers], batchLabels, 0, ds[layers - 1], n, k);
                for (int l = layers - 1; l >= 0; l--) {
                    float[] dx = l > 0 ? ds[l - 1] : null;
                    backward(ys[l], 0, params, wOff[l], ds[l], grads, wOff[l], grads, bOff[l], dx, n, sizes[l],
                            sizes[l + 1]);
                    if (l > 0) {
                        activationBackward(ys[l], ds[l - 1], ds[l - 1], n, sizes[l], acts[l - 1]);
                    }
                }
                step++;
                optimizerStep(optimizer, hp, lr, step, params, grads, state, params.length);
            }
            return lossSum;
        }

        @Override
        public void forward(DeviceBuffer xb, long n, DeviceBuffer outb) {
            float[] x = f(xb);
            float[] out = f(outb);
            int k = sizes[layers];
            int max = ys[1].length / sizes[1];
            for (int r0 = 0; r0 < n; r0 += max) {
                int nb = (int) Math.min(max, n - r0);
                forwardRows(x, r0 * sizes[0], nb);
                System.arraycopy(ys[layers], 0, out, r0 * k, nb * k);
            }
        }

        @Override
        public long parameterCount() {
            return params.length;
        }

        @Override
        public void close() {
        }
    }

    @Override
    public void close() {
    }
}
