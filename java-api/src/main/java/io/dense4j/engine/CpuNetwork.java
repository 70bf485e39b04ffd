package io.dense4j.engine;

import io.dense4j.nativelib.CpuKernels;
import io.dense4j.optim.Optimizer;
import io.dense4j.tensor.Tensor;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;

/**
 * One native network (d4j_net) over borrowed parameter, gradient and optimizer-state buffers, with its
 * own workspace. Owns every native object it creates; {@link #close()} frees them. Not thread-safe.
 */
public final class CpuNetwork implements AutoCloseable {
    private final Architecture arch;
    private final int maxBatch;
    private final IntPointer sizes;
    private final IntPointer acts;
    private final FloatPointer dropout;
    private final FloatPointer hp;
    private final DoublePointer stats = new DoublePointer(3);
    private final LongPointer step = new LongPointer(1);
    private CpuKernels.d4j_net handle;

    private CpuNetwork(Architecture arch, int lossCode, int maxBatch, Tensor params, Tensor grads,
                       Optimizer opt, Tensor optState) {
        CpuKernels.load();
        this.arch = arch;
        this.maxBatch = maxBatch;
        this.sizes = new IntPointer(arch.sizes());
        int[] actCodes = new int[arch.layers()];
        for (int i = 0; i < actCodes.length; i++) {
            actCodes[i] = arch.activations()[i].nativeCode();
        }
        this.acts = new IntPointer(actCodes);
        this.dropout = new FloatPointer(arch.dropout());
        this.hp = new FloatPointer(opt == null ? new float[CpuKernels.OPT_HP_COUNT] : opt.hp());
        params.requireShape("parameter buffer", arch.parameterCount());
        CpuKernels.d4j_net h = CpuKernels.d4j_net_create(arch.layers(), sizes, acts, dropout, lossCode, maxBatch,
                params.floats(), grads == null ? null : grads.floats(),
                opt == null ? 0 : opt.kind().nativeCode(), hp, optState == null ? null : optState.floats(),
                opt == null ? 0f : opt.clipNorm(), opt == null ? 0f : opt.clipValue());
        if (h == null || h.isNull()) {
            freeArrays();
            throw new IllegalStateException("native network creation failed for sizes "
                    + java.util.Arrays.toString(arch.sizes()) + " (invalid architecture/loss combination or out of memory)");
        }
        this.handle = h;
    }

    /** A network that trains: gradients and optimizer state are required. */
    public static CpuNetwork forTraining(Architecture arch, int lossCode, int maxBatch, Tensor params, Tensor grads,
                                         Optimizer opt, Tensor optState) {
        return new CpuNetwork(arch, lossCode, maxBatch, params, grads, opt, optState);
    }

    /** A forward-only network (shares the read-only params with others). */
    public static CpuNetwork forInference(Architecture arch, int lossCode, int maxBatch, Tensor params) {
        return new CpuNetwork(arch, lossCode, maxBatch, params, null, null, null);
    }

    public int maxBatch() {
        return maxBatch;
    }

    public Architecture architecture() {
        return arch;
    }

    /** Sets the optimizer step counter (number of updates done so far). */
    public void setStep(long s) {
        step.put(0, s);
    }

    public long step() {
        return step.get(0);
    }

    /**
     * Runs {@code nBatches} training steps in one native call; see d4j_net_train. Returns the stats of
     * these steps: loss sum, correct count, rows.
     */
    public double[] train(Tensor x, Tensor labels, Tensor targets, IntPointer order, long nOrder, long first,
                          int batch, int nBatches, FloatPointer lrs, long seed) {
        checkOpen();
        stats.put(0, 0).put(1, 0).put(2, 0);
        int rc = CpuKernels.d4j_net_train(handle, x.floats(), labels == null ? null : labels.ints(),
                targets == null ? null : targets.floats(), order, nOrder, first, batch, nBatches, lrs, step, seed, stats);
        check(rc, "training step " + (step.get(0) + 1));
        return new double[] {stats.get(0), stats.get(1), stats.get(2)};
    }

    /** Forward pass over n rows starting at row pointer x; outputs to out (may be null); returns stats. */
    public double[] forward(FloatPointer x, long n, FloatPointer out, IntPointer labels, FloatPointer targets) {
        checkOpen();
        stats.put(0, 0).put(1, 0).put(2, 0);
        int rc = CpuKernels.d4j_net_forward(handle, x, n, out, labels, targets, stats);
        check(rc, "forward pass");
        return new double[] {stats.get(0), stats.get(1), stats.get(2)};
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
