package io.dense4j.backend;

import io.dense4j.data.Dataset;
import io.dense4j.layers.Architecture;
import io.dense4j.optim.Optimizer;
import io.dense4j.optim.OptimizerState;
import io.dense4j.tensor.Tensor;
import io.dense4j.train.Loss;
import io.dense4j.train.LossStats;
import io.dense4j.train.TrainingSession;

/**
 * The bookkeeping every backend shares, written once: host copies of the parameters and of the optimizer state
 * (allocated, zeroed, checked against the architecture, read and written as plain arrays), the compiled optimizer
 * and loss, the optimizer step, the closed state. A backend extends it with its device work only: a training
 * session over the host buffers, the forward pass, and the device hooks that keep its own copies in step
 * ({@link #syncParametersToHost}, {@link #parametersChanged}, {@link #syncOptimizerStateToHost},
 * {@link #optimizerStateChanged}, {@link #releaseDevice}). The CPU backend trains the host parameters in place and
 * its own line-padded copy of the optimizer state; the CUDA backend keeps device copies; both copy in the hooks.
 *
 * <p>The host copies are the source of truth between operations: saving, callbacks and moving the model to
 * another backend read them. Layouts are {@link Architecture}'s (parameters) and {@link OptimizerState}'s
 * ({@link OptimizerState#SLOTS} floats per parameter).
 */
public abstract class HostStateBackend implements Backend {
    private final Architecture arch;
    private final Tensor params;
    private Tensor optState; // allocated at the first compile or setOptimizerState
    private Optimizer optimizer;
    private volatile Loss loss;
    private volatile long step;
    private volatile boolean closed;
    /** Calls in flight hold it shared; close holds it exclusively (so it never frees what a call still reads). */
    private final java.util.concurrent.locks.ReentrantReadWriteLock inUse =
            new java.util.concurrent.locks.ReentrantReadWriteLock();

    /** Allocates zeroed host parameters for {@code arch}. */
    protected HostStateBackend(Architecture arch) {
        this.arch = arch;
        this.params = Tensor.zeros(arch.parameterCount());
    }

    @Override
    public final Architecture architecture() {
        return arch;
    }

    @Override
    public final float[] parameters() {
        checkOpen();
        syncParametersToHost();
        return params.toFloatArray();
    }

    @Override
    public final void setParameters(float[] values) {
        checkOpen();
        params.write(0, values, 0, values.length);
        parametersChanged();
    }

    @Override
    public final void compile(Optimizer optimizer, Loss loss) {
        checkOpen();
        ensureOptimizerState().zero();
        this.optimizer = optimizer;
        this.loss = loss;
        this.step = 0;
        optimizerStateChanged();
        compiled();
    }

    @Override
    public final OptimizerState optimizerState() {
        checkOpen();
        if (optState == null) {
            return new OptimizerState(step, null);
        }
        syncOptimizerStateToHost();
        return new OptimizerState(step, optState.toFloatArray());
    }

    @Override
    public final void setOptimizerState(OptimizerState state) {
        checkOpen();
        float[] slots = state.slots();
        long needed = arch.parameterCount() * OptimizerState.SLOTS;
        if (slots != null && slots.length != needed) {
            throw new IllegalArgumentException("optimizer state holds " + slots.length + " floats, the model needs "
                    + needed);
        }
        Tensor buffer = ensureOptimizerState();
        if (slots == null) {
            buffer.zero();
        } else {
            buffer.write(0, slots, 0, slots.length); // a device copy is refreshed when the next session starts
        }
        step = state.step();
        optimizerStateChanged();
    }

    @Override
    public final long optimizerStep() {
        return step;
    }

    @Override
    public final TrainingSession startTraining(Dataset train, int nTrain, int batch) {
        checkOpen();
        if (optimizer == null) {
            throw new IllegalStateException("compile the model (optimizer, loss) before training");
        }
        if (train == null) {
            throw new IllegalArgumentException("no training data");
        }
        long rows = checkRows(train.features(), "the training data");
        checkLabels(train.labels(), train.targets(), rows, loss.sparseLabels(), "the training data");
        if (nTrain < 1 || nTrain > rows || batch < 1) {
            throw new IllegalArgumentException("a session over " + nTrain + " training rows of " + rows
                    + " in batches of " + batch + ": needs 1 <= rows <= " + rows + " and a batch >= 1");
        }
        return new CheckedSession(openSession(train, nTrain, batch), rows, nTrain, batch);
    }

    /**
     * Frees the host buffers and the device's resources; waits for calls in flight on other threads (a predict
     * running while the model is unloaded) to return first, and later calls fail with IllegalStateException.
     */
    @Override
    public final void close() {
        if (inUse.getReadHoldCount() > 0) {
            throw new IllegalStateException("a model cannot be closed from inside one of its own calls");
        }
        inUse.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            try {
                releaseDevice();
            } finally {
                params.close();
                if (optState != null) {
                    optState.close();
                }
            }
        } finally {
            inUse.writeLock().unlock();
        }
    }

    // ------------------------------------------------------------------------------------- argument checks

    /*
     * Native code gets pointers, not lengths: every size it will read or write is checked here against the tensors
     * and arrays it is handed, for every caller (a distributed trainer driving a session itself included). A short
     * buffer there would be a read or write past its end, a JVM crash, not an exception.
     */

    /** The rows of a [rows, inputs] float32 or uint8 tensor of model inputs. */
    protected final long checkRows(Tensor x, String what) {
        if (x == null || x.rank() != 2 || x.dim(1) != arch.inputs()
                || !(x.dtype() == Tensor.DType.FLOAT32 || x.dtype() == Tensor.DType.UINT8)) {
            throw new IllegalArgumentException(what + " must be a [rows, " + arch.inputs() + "] float32 or uint8 "
                    + "tensor, got " + (x == null ? "none" : x.dtype() + " " + java.util.Arrays.toString(x.shape())));
        }
        return x.dim(0);
    }

    /** Class labels ([rows] int32) or targets ([rows, outputs] float32), whichever the loss reads. */
    protected final void checkLabels(Tensor labels, Tensor targets, long rows, boolean sparse, String what) {
        if (sparse && (labels == null || labels.dtype() != Tensor.DType.INT32 || labels.size() != rows)) {
            throw new IllegalArgumentException(what + " needs " + rows + " int32 class labels for this loss, got "
                    + describe(labels));
        }
        if (!sparse) {
            checkOutputs(targets, rows, what + " targets");
        }
    }

    /** A [rows, outputs] float32 tensor (outputs written, or targets read). */
    protected final void checkOutputs(Tensor t, long rows, String what) {
        if (t == null || t.dtype() != Tensor.DType.FLOAT32 || t.rank() != 2 || t.dim(0) != rows
                || t.dim(1) != arch.outputs()) {
            throw new IllegalArgumentException(what + " must be a [" + rows + ", " + arch.outputs() + "] float32 "
                    + "tensor, got " + describe(t));
        }
    }

    /** A forward pass's tensors: inputs, outputs (or null), labels or targets (or null). */
    protected final void checkForward(Tensor x, Tensor outputs, Tensor labels, Tensor targets) {
        long rows = checkRows(x, "the inputs");
        if (outputs != null) {
            checkOutputs(outputs, rows, "the outputs");
        }
        if (labels != null && (labels.dtype() != Tensor.DType.INT32 || labels.size() != rows)) {
            throw new IllegalArgumentException("the labels must be " + rows + " int32 values, got " + describe(labels));
        }
        if (targets != null) {
            checkOutputs(targets, rows, "the targets");
        }
    }

    private static String describe(Tensor t) {
        return t == null ? "none" : t.dtype() + " " + java.util.Arrays.toString(t.shape());
    }

    /** A session whose every call is checked against its data and its backend's state before the backend's runs. */
    private final class CheckedSession implements TrainingSession {
        private final TrainingSession session;
        private final long rows;
        private final int nTrain;
        private final int batch;
        private boolean ordered;

        CheckedSession(TrainingSession session, long rows, int nTrain, int batch) {
            this.session = session;
            this.rows = rows;
            this.nTrain = nTrain;
            this.batch = batch;
        }

        @Override
        public long step() {
            return session.step();
        }

        @Override
        public void order(int[] order) {
            checkOpen();
            if (order == null || order.length != nTrain) {
                throw new IllegalArgumentException("the order must hold the session's " + nTrain + " rows, got "
                        + (order == null ? "none" : order.length));
            }
            for (int i = 0; i < order.length; i++) {
                if (order[i] < 0 || order[i] >= rows) {
                    throw new IllegalArgumentException("order[" + i + "] = " + order[i] + " is not a row of the "
                            + rows + "-row training data");
                }
            }
            session.order(order);
            ordered = true;
        }

        @Override
        public LossStats train(long first, int batch, int steps, float[] learningRates, long seed) {
            if (steps < 0 || learningRates == null || learningRates.length < steps) {
                throw new IllegalArgumentException(steps + " steps need as many learning rates, got "
                        + (learningRates == null ? "none" : learningRates.length));
            }
            if (batch < 1 || batch > this.batch) {
                throw new IllegalArgumentException("batch " + batch + " outside [1, " + this.batch + "], the session's");
            }
            if (steps > 0 && (first < 0 || first >= nTrain || steps - 1L > (nTrain - 1 - first) / batch)) {
                throw new IllegalArgumentException(steps + " batches of " + batch + " from position " + first
                        + " run past the " + nTrain + " rows of the order");
            }
            if (steps > 0 && !ordered) {
                throw new IllegalStateException("set the order of the rows before training");
            }
            enter();
            try {
                return session.train(first, batch, steps, learningRates, seed);
            } finally {
                exit();
            }
        }

        @Override
        public LossStats evaluate(Dataset data, int first, int count) {
            checkOpen();
            long n = checkRows(data.features(), "the evaluation data");
            checkLabels(data.labels(), data.targets(), n, loss.sparseLabels(), "the evaluation data");
            if (first < 0 || count < 0 || first > n - count) {
                throw new IllegalArgumentException("rows [" + first + ", " + first + " + " + count + ") of " + n);
            }
            return session.evaluate(data, first, count);
        }

        @Override
        public void close() {
            if (session != null) {
                session.close();
            }
        }
    }

    // ------------------------------------------------------------------------------------- for the backends

    /**
     * A training session over the host buffers (compiled: {@link #optimizer()} and {@link #loss()} are set),
     * starting at {@link #step()}; it reports the step after every chunk with {@link #setStep}, and its close leaves
     * {@link #parameterBuffer()} and {@link #optimizerStateBuffer()} current.
     */
    protected abstract TrainingSession openSession(Dataset train, int nTrain, int batch);

    /** Hook: the device copy of the parameters may be newer than the host's; copy it back. */
    protected void syncParametersToHost() {}

    /** Hook: the host parameters were replaced; the device copy must be refreshed before its next use. */
    protected void parametersChanged() {}

    /** Hook: a running session may have trained the device copy of the optimizer state; copy it back. */
    protected void syncOptimizerStateToHost() {}

    /** Hook: the host optimizer state was replaced or zeroed; a copy the device trains must be refreshed. */
    protected void optimizerStateChanged() {}

    /** Hook: {@link #compile} bound a new optimizer and loss (state zeroed, step 0). */
    protected void compiled() {}

    /** Hook: frees the device's resources; called once, by {@link #close()}, before the host buffers are freed. */
    protected void releaseDevice() {}

    /** The host parameters ({@code parameterCount()} floats). */
    protected final Tensor parameterBuffer() {
        return params;
    }

    /** The host optimizer state ({@link OptimizerState#SLOTS} floats per parameter), allocated when first needed. */
    protected final Tensor optimizerStateBuffer() {
        return ensureOptimizerState();
    }

    /** The compiled optimizer, or null before the first compile. */
    protected final Optimizer optimizer() {
        return optimizer;
    }

    /** The compiled loss, or null before the first compile (inference only). */
    protected final Loss loss() {
        return loss;
    }

    /** Updates applied so far. */
    protected final long step() {
        return step;
    }

    /** Records the optimizer step a session reached (also after a failed chunk: the updates before it stay). */
    protected final void setStep(long step) {
        this.step = step;
    }

    /**
     * Marks a call that reads or writes the buffers as in flight (until {@link #exit}): {@link #close} waits for it.
     *
     * @throws IllegalStateException when the backend was closed
     */
    protected final void enter() {
        inUse.readLock().lock();
        if (closed) {
            inUse.readLock().unlock();
            throw new IllegalStateException("model was closed");
        }
    }

    /** Ends a call {@link #enter} began. */
    protected final void exit() {
        inUse.readLock().unlock();
    }

    /** @throws IllegalStateException when the backend was closed */
    protected final void checkOpen() {
        if (closed) {
            throw new IllegalStateException("model was closed");
        }
    }

    protected final boolean isClosed() {
        return closed;
    }

    private Tensor ensureOptimizerState() {
        if (optState == null) {
            optState = Tensor.zeros(arch.parameterCount() * OptimizerState.SLOTS);
        }
        return optState;
    }
}
