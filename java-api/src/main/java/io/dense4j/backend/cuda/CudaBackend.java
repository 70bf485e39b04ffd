package io.dense4j.backend.cuda;

import io.dense4j.backend.HostStateBackend;
import io.dense4j.backend.kernels.OpCodes;
import io.dense4j.data.Dataset;
import io.dense4j.internal.NativeMemory;
import io.dense4j.layers.Architecture;
import io.dense4j.tensor.Device;
import io.dense4j.tensor.Tensor;
import io.dense4j.train.LossStats;
import io.dense4j.train.TrainingSession;

/**
 * The CUDA backend: our CUDA kernels on one GPU ({@link CudaEngine} owns the device memory and networks), with host
 * copies of the parameters and optimizer state (the base's) that are current between operations, so that saving,
 * callbacks and moving to another device read plain host arrays. Training data is uploaded once per fit; each
 * training step runs as a replayed CUDA graph.
 */
public final class CudaBackend extends HostStateBackend {
    private final Device device;
    private final CudaEngine engine;

    /**
     * Allocates the parameters on {@code device} (a CUDA device checked by {@link Device#cuda(int)}).
     *
     * @throws UnsupportedOperationException when CUDA or that device is not available
     */
    public CudaBackend(Device device, Architecture arch) {
        super(checkCuda(device, arch));
        this.device = device;
        try {
            this.engine = new CudaEngine(device.index(), arch, NativeMemory.floats(parameterBuffer()), false);
        } catch (RuntimeException | Error e) {
            close(); // frees the host buffers (no engine yet)
            throw e;
        }
    }

    private static Architecture checkCuda(Device device, Architecture arch) {
        if (!device.isCuda()) {
            throw new IllegalArgumentException("the CUDA backend needs a CUDA device, got " + device);
        }
        return arch;
    }

    @Override
    public Device device() {
        return device;
    }

    @Override
    protected void syncParametersToHost() {
        engine.syncToHost();
    }

    @Override
    protected void parametersChanged() {
        engine.hostParamsChanged();
    }

    /** Downloads the optimizer state first when a running fit changed it on the device. */
    @Override
    protected void syncOptimizerStateToHost() {
        engine.syncOptimizerStateToHost(NativeMemory.floats(optimizerStateBuffer()));
    }

    @Override
    protected TrainingSession openSession(Dataset train, int nTrain, int batch) {
        return engine.startTraining(OpCodes.loss(loss()), loss().sparseLabels(), batch, optimizer(),
                NativeMemory.floats(optimizerStateBuffer()), step(), this::setStep, train, nTrain);
    }

    @Override
    public LossStats forward(Tensor x, Tensor outputs, Tensor labels, Tensor targets) {
        checkOpen();
        checkForward(x, outputs, labels, targets);
        // uint8 rows as the floats they stand for
        try (Tensor floats = x.dtype() == Tensor.DType.UINT8 ? x.toFloat32() : null) {
            return engine.forward(OpCodes.loss(loss()), NativeMemory.floats(floats != null ? floats : x), 0, x.dim(0),
                    NativeMemory.floatsOrNull(outputs), NativeMemory.intsOrNull(labels),
                    NativeMemory.floatsOrNull(targets));
        }
    }

    @Override
    public float[][] predict(float[][] rows) {
        checkOpen();
        float[][] result = new float[rows.length][architecture().outputs()];
        engine.predict(OpCodes.loss(loss()), rows, result);
        return result;
    }

    @Override
    protected void releaseDevice() {
        if (engine != null) {
            engine.close();
        }
    }
}
