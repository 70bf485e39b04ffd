package io.dense4j.backend;

import io.dense4j.data.Dataset;
import io.dense4j.layers.Architecture;
import io.dense4j.optim.Optimizer;
import io.dense4j.optim.OptimizerState;
import io.dense4j.tensor.Tensor;
import io.dense4j.train.Loss;
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
        return openSession(train, nTrain, batch);
    }

    @Override
    public final void close() {
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
