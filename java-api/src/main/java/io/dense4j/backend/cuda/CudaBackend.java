package io.dense4j.backend.cuda;

import io.dense4j.backend.Backend;
import io.dense4j.backend.kernels.OpCodes;
import io.dense4j.data.Dataset;
import io.dense4j.internal.NativeMemory;
import io.dense4j.layers.Architecture;
import io.dense4j.nativelib.CudaKernels;
import io.dense4j.optim.Optimizer;
import io.dense4j.optim.OptimizerState;
import io.dense4j.tensor.Device;
import io.dense4j.tensor.Tensor;
import io.dense4j.train.Loss;
import io.dense4j.train.LossStats;
import io.dense4j.train.TrainingSession;
import org.bytedeco.javacpp.FloatPointer;

/**
 * The CUDA backend: our CUDA kernels on one GPU ({@link CudaEngine} owns the device memory and networks), with host
 * copies of the parameters and optimizer state that are current between operations, so that saving, callbacks and
 * moving to another device read plain host arrays. Training data is uploaded once per fit; each training step runs
 * as a replayed CUDA graph.
 */
public final class CudaBackend implements Backend {
    private final Device device;
    private final Architecture arch;
    private final Tensor params;
    private Tensor optState; // host copy, allocated at the first compile
    private final CudaEngine engine;
    private Optimizer optimizer;
    private Loss loss;
    private volatile int lossCode = OpCodes.INFERENCE_LOSS;
    private long step;
    private volatile boolean closed;

    /**
     * Allocates the parameters on {@code device} (a CUDA device checked by {@link Device#cuda(int)}).
     *
     * @throws UnsupportedOperationException when CUDA or that device is not available
     */
    public CudaBackend(Device device, Architecture arch) {
        if (!device.isCuda()) {
            throw new IllegalArgumentException("the CUDA backend needs a CUDA device, got " + device);
        }
        this.device = device;
        this.arch = arch;
        this.params = Tensor.zeros(arch.parameterCount());
        try {
            this.engine = new CudaEngine(device.index(), arch, NativeMemory.floats(params), false);
        } catch (RuntimeException | Error e) {
            params.close();
            throw e;
        }
    }

    @Override
    public Device device() {
        return device;
    }

    @Override
    public Architecture architecture() {
        return arch;
    }

    @Override
    public float[] parameters() {
        checkOpen();
        engine.syncToHost();
        return params.toFloatArray();
    }

    @Override
    public void setParameters(float[] values) {
        checkOpen();
        params.write(0, values, 0, values.length);
        engine.hostParamsChanged();
    }

    @Override
    public void compile(Optimizer optimizer, Loss loss) {
        checkOpen();
        ensureOptimizerBuffer();
        NativeMemory.floats(optState).zero();
        this.optimizer = optimizer;
        this.loss = loss;
        this.lossCode = OpCodes.loss(loss);
        this.step = 0;
    }

    private void ensureOptimizerBuffer() {
        if (optState == null) {
            optState = Tensor.zeros(arch.parameterCount() * CudaKernels.OPT_STATE_PER_PARAM);
        }
    }

    /** The optimizer state, downloaded first when a running fit changed it on the device. */
    @Override
    public OptimizerState optimizerState() {
        checkOpen();
        if (optState == null) {
            return new OptimizerState(step, null);
        }
        engine.syncOptimizerStateToHost(NativeMemory.floats(optState));
        return new OptimizerState(step, optState.toFloatArray());
    }

    @Override
    public void setOptimizerState(OptimizerState state) {
        checkOpen();
        float[] slots = state.slots();
        if (slots != null && slots.length != arch.parameterCount() * CudaKernels.OPT_STATE_PER_PARAM) {
            throw new IllegalArgumentException("optimizer state holds " + slots.length + " floats, the model needs "
                    + arch.parameterCount() * CudaKernels.OPT_STATE_PER_PARAM);
        }
        ensureOptimizerBuffer();
        if (slots == null) {
            NativeMemory.floats(optState).zero();
        } else {
            optState.write(0, slots, 0, slots.length); // uploaded when the next fit starts
        }
        step = state.step();
    }

    @Override
    public long optimizerStep() {
        return step;
    }

    @Override
    public TrainingSession startTraining(Dataset train, int nTrain, int batch) {
        checkOpen();
        if (optimizer == null) {
            throw new IllegalStateException("compile the model (optimizer, loss) before training");
        }
        return engine.startTraining(OpCodes.loss(loss), loss.sparseLabels(), batch, optimizer,
                NativeMemory.floats(optState), step, s -> step = s, train, nTrain);
    }

    @Override
    public LossStats forward(Tensor x, Tensor outputs, Tensor labels, Tensor targets) {
        checkOpen();
        FloatPointer out = outputs == null ? null : NativeMemory.floats(outputs);
        return engine.forward(lossCode, NativeMemory.floats(x), 0, x.dim(0), out,
                labels == null ? null : NativeMemory.ints(labels), targets == null ? null : NativeMemory.floats(targets));
    }

    @Override
    public float[][] predict(float[][] rows) {
        checkOpen();
        float[][] result = new float[rows.length][arch.outputs()];
        engine.predict(lossCode, rows, result);
        return result;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("model was closed");
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        engine.close();
        params.close();
        if (optState != null) {
            optState.close();
        }
    }
}
