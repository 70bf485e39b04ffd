package io.dense4j.backend.cpu;

import io.dense4j.backend.kernels.OpCodes;
import io.dense4j.layers.Architecture;
import io.dense4j.nativelib.CpuKernels;
import io.dense4j.train.LossStats;
import io.dense4j.internal.NativeMemory;
import io.dense4j.tensor.Tensor;
import io.dense4j.train.NonFiniteLossException;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;

/**
 * One native network (d4j_net) over borrowed parameter, gradient and optimizer-state buffers, with its
 * own workspace. Owns every native object it creates; {@link #close()} frees them. Not thread-safe.
 */
final class CpuNetwork implements AutoCloseable {
    /**
     * The input rows of a network call: float32 rows, or uint8 rows standing for {@code b / divisor} (a
     * {@link Tensor.DType#UINT8} tensor), which the engine converts while it gathers them.
     */
    record Rows(FloatPointer floats, BytePointer bytes, float divisor, int width) {
        /** The rows of a FLOAT32 or UINT8 tensor {@code [N, width]}, from its first row. */
        static Rows of(Tensor x) {
            int width = (int) x.dim(-1);
            return x.dtype() == Tensor.DType.UINT8 ? new Rows(null, NativeMemory.bytes(x), x.divisor(), width)
                    : new Rows(NativeMemory.floats(x), null, 1f, width);
        }

        /** The same rows from row {@code first} on. */
        Rows from(long first) {
            long off = first * width;
            return floats != null ? new Rows(new FloatPointer(floats).position(off), null, 1f, width)
                    : new Rows(null, new BytePointer(bytes).position(off), divisor, width);
        }
    }

    private final int maxBatch;
    private final IntPointer sizes;
    private final IntPointer acts;
    private final FloatPointer dropout;
    private final FloatPointer hp;
    private final DoublePointer stats = new DoublePointer(3);
    private final LongPointer step = new LongPointer(1);
    private CpuKernels.d4j_net handle;

    /**
     * @param grads    null for an inference-only network (then optimizer settings are ignored)
     * @param optCode  optimizer code, hp its {@code D4J_OPT_HP_COUNT} hyperparameters (null for inference)
     */
    private CpuNetwork(Architecture arch, int lossCode, int maxBatch, FloatPointer params, FloatPointer grads,
                       int optCode, float[] hpValues, FloatPointer optState, float clipNorm, float clipValue) {
        CpuKernels.load();
        this.maxBatch = maxBatch;
        this.sizes = new IntPointer(arch.sizes());
        this.acts = new IntPointer(OpCodes.activations(arch));
        this.dropout = new FloatPointer(arch.dropout());
        this.hp = new FloatPointer(hpValues == null ? new float[CpuKernels.OPT_HP_COUNT] : hpValues);
        CpuKernels.d4j_net h = CpuKernels.d4j_net_create(arch.layers(), sizes, acts, dropout, lossCode, maxBatch,
                params, grads, optCode, hp, optState, clipNorm, clipValue);
        if (h == null || h.isNull()) {
            freeArrays();
            throw new IllegalStateException("native network creation failed for sizes "
                    + java.util.Arrays.toString(arch.sizes()) + " (invalid architecture/loss combination or out of memory)");
        }
        this.handle = h;
    }

    /**
     * A network that trains the given buffers in place: gradients and optimizer state are required; the state's
     * {@code OPT_STATE_PER_PARAM} slots lie {@code optStride} floats apart (see d4j_net_set_opt_stride).
     */
    static CpuNetwork forTraining(Architecture arch, int lossCode, int maxBatch, FloatPointer params, FloatPointer grads,
                                  int optCode, float[] hp, FloatPointer optState, long optStride, float clipNorm,
                                  float clipValue) {
        CpuNetwork net = new CpuNetwork(arch, lossCode, maxBatch, params, grads, optCode, hp, optState, clipNorm,
                clipValue);
        int rc = CpuKernels.d4j_net_set_opt_stride(net.handle, optStride);
        if (rc != CpuKernels.OK) {
            net.close();
            throw new IllegalArgumentException("optimizer state stride " + optStride + " refused for "
                    + arch.parameterCount() + " parameters");
        }
        return net;
    }

    /** A forward-only network (shares the read-only params with others). */
    static CpuNetwork forInference(Architecture arch, int lossCode, int maxBatch, FloatPointer params) {
        return new CpuNetwork(arch, lossCode, maxBatch, params, null, 0, null, null, 0f, 0f);
    }

    int maxBatch() {
        return maxBatch;
    }

    /** Sets the optimizer step counter (number of updates done so far). */
    void setStep(long s) {
        step.put(0, s);
    }

    long step() {
        return step.get(0);
    }

    /**
     * Runs {@code nBatches} training steps in one native call; see d4j_net_train. Returns the stats of
     * these steps: loss sum, correct count, rows.
     */
    LossStats train(Rows x, IntPointer labels, FloatPointer targets, IntPointer order, long nOrder, long first,
                    int batch, int nBatches, FloatPointer lrs, long seed) {
        checkOpen();
        stats.put(0, 0).put(1, 0).put(2, 0);
        int rc = KernelThread.call(() -> x.floats() != null
                ? CpuKernels.d4j_net_train(handle, x.floats(), labels, targets, order, nOrder, first, batch, nBatches,
                        lrs, step, seed, stats)
                : CpuKernels.d4j_net_train_data(handle, x.bytes(), CpuKernels.DATA_U8, x.divisor(), labels, targets,
                        order, nOrder, first, batch, nBatches, lrs, step, seed, stats));
        check(rc, "training step " + (step.get(0) + 1));
        return new LossStats(stats.get(0), stats.get(1), stats.get(2));
    }

    /** Forward pass over n rows starting at row pointer x; outputs to out (may be null); returns stats. */
    LossStats forward(FloatPointer x, long n, FloatPointer out, IntPointer labels, FloatPointer targets) {
        return forward(new Rows(x, null, 1f, 0), n, out, labels, targets);
    }

    /** As {@link #forward(FloatPointer, long, FloatPointer, IntPointer, FloatPointer)} over float or byte rows. */
    LossStats forward(Rows x, long n, FloatPointer out, IntPointer labels, FloatPointer targets) {
        checkOpen();
        stats.put(0, 0).put(1, 0).put(2, 0);
        int rc = KernelThread.call(() -> x.floats() != null
                ? CpuKernels.d4j_net_forward(handle, x.floats(), n, out, labels, targets, stats)
                : CpuKernels.d4j_net_forward_data(handle, x.bytes(), CpuKernels.DATA_U8, x.divisor(), n, out, labels,
                        targets, stats));
        check(rc, "forward pass");
        return new LossStats(stats.get(0), stats.get(1), stats.get(2));
    }

    private static void check(int rc, String what) {
        switch (rc) {
            case CpuKernels.OK -> { }
            case CpuKernels.ERR_NONFINITE -> throw new NonFiniteLossException(
                    "the loss became NaN or infinite at " + what
                            + "; the update was not applied. Lower the learning rate, clip gradients, or check the data");
            case CpuKernels.ERR_ARGUMENT -> throw new IllegalArgumentException("native kernels rejected the arguments of " + what);
            case CpuKernels.ERR_MEMORY -> throw new OutOfMemoryError("native allocation failed during " + what);
            default -> throw new IllegalStateException("native error " + rc + " during " + what);
        }
    }

    private void checkOpen() {
        if (handle == null) {
            throw new IllegalStateException("network was closed");
        }
    }

    private void freeArrays() {
        sizes.close();
        acts.close();
        dropout.close();
        hp.close();
        stats.close();
        step.close();
    }

    @Override
    public void close() {
        if (handle != null) {
            CpuKernels.d4j_net_destroy(handle);
            handle = null;
            freeArrays();
        }
    }
}
