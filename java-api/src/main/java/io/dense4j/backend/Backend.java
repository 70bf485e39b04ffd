package io.dense4j.backend;

import io.dense4j.layers.Architecture;
import io.dense4j.optim.Optimizer;
import io.dense4j.optim.OptimizerState;
import io.dense4j.tensor.Device;
import io.dense4j.tensor.Tensor;
import io.dense4j.train.Loss;
import io.dense4j.train.LossStats;
import io.dense4j.train.TrainingSession;
import io.dense4j.data.Dataset;

/**
 * Where a model's numbers live and its kernels run. A backend owns the model's parameters and optimizer state
 * (allocated zeroed for its {@link Architecture} when it is created), runs chunks of training steps
 * ({@link #startTraining}), runs forward passes for inference and evaluation, and reads and writes its parameters
 * and optimizer state as plain arrays. {@code Sequential} keeps the model (layers, compile settings,
 * preprocessing, metadata) and delegates the numbers to one backend; the fit loop is the {@link io.dense4j.train.Trainer}'s.
 *
 * <p>Built in: the CPU backend (our C++ kernels with OpenBLAS) and the CUDA backend (our CUDA kernels), chosen by
 * {@code Sequential.to(Device)}. Another backend (a remote worker, an accelerator of a different kind) implements
 * this interface and is attached with {@code Sequential.to(BackendFactory)}; nothing else changes. Extending
 * {@link HostStateBackend}, as both built-in backends do, leaves it only its device work: the base keeps the host
 * copies of the parameters and optimizer state, their checks, the step and the closed state.
 *
 * <p>Layouts are the kernels': parameters as {@link Architecture} lays them out, optimizer state as
 * {@link OptimizerState} does. {@link #predict} and {@link #forward} may be called from many threads at once;
 * everything else must not run concurrently with any other call on the same backend.
 */
public interface Backend extends AutoCloseable {
    /** The device whose kernels run the model (for a remote backend: the remote device). */
    Device device();

    /** The architecture this backend was created for. */
    Architecture architecture();

    /** A copy of every parameter ({@code architecture().parameterCount()} floats). */
    float[] parameters();

    /** Replaces every parameter; {@code values} has {@code parameterCount()} finite floats (checked by the model). */
    void setParameters(float[] values);

    /**
     * Binds the optimizer and loss used by the next training sessions and forward passes, and resets the optimizer
     * state (zero buffers, step 0), as Keras's {@code compile} does.
     */
    void compile(Optimizer optimizer, Loss loss);

    /** A copy of the optimizer state: the step and every buffer. */
    OptimizerState optimizerState();

    /** Replaces the optimizer state; null buffers mean zeros (a file saved without them: only the step is kept). */
    void setOptimizerState(OptimizerState state);

    /** Updates applied so far (continues across training sessions until the next {@link #compile}). */
    long optimizerStep();

    /**
     * Starts a training session over {@code train} (already normalized; rows [0, nTrain) are trained on, batches of
     * {@code batch} rows), continuing from the current optimizer state. The session's {@code close()} leaves the
     * parameters and optimizer state of this backend current.
     *
     * @throws IllegalStateException when the backend was not compiled
     */
    TrainingSession startTraining(Dataset train, int nTrain, int batch);

    /**
     * Forward pass over every row of {@code x} ([n, inputs], already normalized): activated outputs into
     * {@code outputs} ([n, outputs] or null) and, when {@code labels} (int32 [n]) or {@code targets} (float32
     * [n, outputs]) are given, the loss stats under the compiled loss. Thread-safe.
     */
    LossStats forward(Tensor x, Tensor outputs, Tensor labels, Tensor targets);

    /** Activated outputs of already-normalized rows (each of {@code inputs} finite floats). Thread-safe. */
    float[][] predict(float[][] rows);

    /** Frees everything the backend owns; idempotent. */
    @Override
    void close();
}
