package io.dense4j.backend.cpu;

import io.dense4j.backend.Backend;
import io.dense4j.backend.kernels.OpCodes;
import io.dense4j.data.Dataset;
import io.dense4j.internal.NativeMemory;
import io.dense4j.layers.Architecture;
import io.dense4j.nativelib.CpuKernels;
import io.dense4j.optim.Optimizer;
import io.dense4j.optim.OptimizerState;
import io.dense4j.tensor.Device;
import io.dense4j.tensor.Tensor;
import io.dense4j.train.Loss;
import io.dense4j.train.LossStats;
import io.dense4j.train.TrainingSession;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;

/**
 * The CPU backend: our C++ kernels (OpenBLAS for the GEMMs) over host buffers. All weights and biases live in ONE
 * contiguous native buffer, and so do the gradients and the optimizer state: a whole training step is one pass of
 * native code over them, and a training session trains them in place. Inference uses a pool of per-thread native
 * workspaces over the shared read-only parameters, so concurrent predicts never share one.
 */
public final class CpuBackend implements Backend {
    /** Rows per native call at inference: bounds the per-thread workspace. */
    static final int INFERENCE_BATCH = 256;

    private final Architecture arch;
    private final Tensor params;
    private final FloatPointer paramsPtr;
    private Tensor grads;     // allocated with the optimizer state, at the first compile
    private Tensor optState;
    private Optimizer optimizer;
    private Loss loss;
    private volatile int lossCode = OpCodes.INFERENCE_LOSS;
    private long step;
    private final ConcurrentLinkedQueue<InferenceSession> sessions = new ConcurrentLinkedQueue<>();
    private volatile boolean closed;

    /** Allocates zeroed parameters; the native library loads with the first network (predict, fit, evaluate). */
    public CpuBackend(Architecture arch) {
        this.arch = arch;
        this.params = Tensor.zeros(arch.parameterCount());
        this.paramsPtr = NativeMemory.floats(params);
    }

    /** Threads of the CPU kernels (Dense4J's own pool); see {@code Dense4J.setThreads}. Loads the native library. */
    public static void setThreads(int n) {
        CpuKernels.d4j_set_num_threads(n);
    }

    public static int threads() {
        return CpuKernels.d4j_get_num_threads();
    }

    @Override
    public Device device() {
        return Device.cpu();
    }

    @Override
    public Architecture architecture() {
        return arch;
    }

    @Override
    public float[] parameters() {
        checkOpen();
        return params.toFloatArray();
    }

    @Override
    public void setParameters(float[] values) {
        checkOpen();
        params.write(0, values, 0, values.length);
    }

    @Override
    public void compile(Optimizer optimizer, Loss loss) {
        checkOpen();
        ensureOptimizerBuffers();
        NativeMemory.floats(optState).zero();
        this.optimizer = optimizer;
        this.loss = loss;
        this.step = 0;
        this.lossCode = OpCodes.loss(loss);
        InferenceSession stale;
        while ((stale = sessions.poll()) != null) {
            stale.close(); // built for the previous loss
        }
    }

    private void ensureOptimizerBuffers() {
        if (grads == null) {
            grads = Tensor.zeros(arch.parameterCount());
            optState = Tensor.zeros(arch.parameterCount() * CpuKernels.OPT_STATE_PER_PARAM);
        }
    }

    @Override
    public OptimizerState optimizerState() {
        checkOpen();
        return new OptimizerState(step, optState == null ? null : optState.toFloatArray());
    }

    @Override
    public void setOptimizerState(OptimizerState state) {
        checkOpen();
        float[] slots = state.slots();
        if (slots != null && slots.length != arch.parameterCount() * CpuKernels.OPT_STATE_PER_PARAM) {
            throw new IllegalArgumentException("optimizer state holds " + slots.length + " floats, the model needs "
                    + arch.parameterCount() * CpuKernels.OPT_STATE_PER_PARAM);
        }
        ensureOptimizerBuffers();
        if (slots == null) {
            NativeMemory.floats(optState).zero();
        } else {
            optState.write(0, slots, 0, slots.length);
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
        return new CpuTrainingSession(train, nTrain, batch);
    }

    @Override
    public LossStats forward(Tensor x, Tensor outputs, Tensor labels, Tensor targets) {
        InferenceSession s = acquire();
        try {
            return s.net.forward(NativeMemory.floats(x), x.dim(0), outputs == null ? null : NativeMemory.floats(outputs),
                    labels == null ? null : NativeMemory.ints(labels), targets == null ? null : NativeMemory.floats(targets));
        } finally {
            release(s);
        }
    }

    @Override
    public float[][] predict(float[][] rows) {
        int d = arch.inputs();
        int k = arch.outputs();
        float[][] result = new float[rows.length][k];
        InferenceSession s = acquire();
        try {
            for (int start = 0; start < rows.length; start += INFERENCE_BATCH) {
                int nb = Math.min(INFERENCE_BATCH, rows.length - start);
                for (int r = 0; r < nb; r++) {
                    s.in.position((long) r * d).put(rows[start + r]);
                }
                s.in.position(0);
                s.net.forward(s.in, nb, s.out, null, null);
                for (int r = 0; r < nb; r++) {
                    s.out.position((long) r * k).get(result[start + r]);
                }
                s.out.position(0);
            }
        } finally {
            release(s);
        }
        return result;
    }

    /** Per-thread native workspace for inference; pooled so that concurrent predicts never share one. */
    private final class InferenceSession {
        /** The loss its network computes statistics with: a later compile with another loss retires it. */
        final int builtFor = lossCode;
        final CpuNetwork net = CpuNetwork.forInference(arch, builtFor, INFERENCE_BATCH, paramsPtr);
        final Tensor inTensor = Tensor.zeros(INFERENCE_BATCH, arch.inputs());
        final Tensor outTensor = Tensor.zeros(INFERENCE_BATCH, arch.outputs());
        final FloatPointer in = NativeMemory.floats(inTensor);
        final FloatPointer out = NativeMemory.floats(outTensor);

        void close() {
            net.close();
            inTensor.close();
            outTensor.close();
        }
    }

    private InferenceSession acquire() {
        checkOpen();
        InferenceSession s = sessions.poll();
        return s != null ? s : new InferenceSession();
    }

    private void release(InferenceSession s) {
        if (closed || s.builtFor != lossCode) {
            s.close();
        } else {
            sessions.offer(s);
        }
    }

    /** The CPU training session: the network trains the backend's buffers in place. */
    private final class CpuTrainingSession implements TrainingSession {
        private final CpuNetwork net;
        private final IntPointer orderPtr;
        private FloatPointer lrPtr;
        private final FloatPointer x;
        private final IntPointer labels;
        private final FloatPointer targets;
        private final int nTrain;

        CpuTrainingSession(Dataset train, int nTrain, int batch) {
            this.x = NativeMemory.floats(train.features());
            this.labels = loss.sparseLabels() ? NativeMemory.ints(train.labels()) : null;
            this.targets = loss.sparseLabels() ? null : NativeMemory.floats(train.targets());
            this.nTrain = nTrain;
            this.net = CpuNetwork.forTraining(arch, OpCodes.loss(loss), batch, paramsPtr, NativeMemory.floats(grads),
                    OpCodes.optimizer(optimizer), OpCodes.hyperparameters(optimizer), NativeMemory.floats(optState),
                    (float) optimizer.clipNorm(), (float) optimizer.clipValue());
            this.orderPtr = new IntPointer(nTrain);
            this.lrPtr = new FloatPointer(64);
            net.setStep(step);
        }

        @Override
        public long step() {
            return net.step();
        }

        @Override
        public void order(int[] order) {
            orderPtr.put(order, 0, nTrain);
        }

        @Override
        public LossStats train(long first, int batch, int steps, float[] learningRates, long seed) {
            if (lrPtr.capacity() < steps) {
                lrPtr.close();
                lrPtr = new FloatPointer(steps);
            }
            lrPtr.put(learningRates, 0, steps);
            try {
                return net.train(x, labels, targets, orderPtr, nTrain, first, batch, steps, lrPtr, seed);
            } finally {
                step = net.step(); // even after a failure, the updates before it were applied
            }
        }

        @Override
        public LossStats evaluate(Dataset d, int first, int count) {
            InferenceSession s = acquire();
            try {
                FloatPointer px = NativeMemory.floats(d.features()).position((long) first * arch.inputs());
                IntPointer lab = loss.sparseLabels() ? NativeMemory.ints(d.labels()).position(first) : null;
                FloatPointer tgt = loss.sparseLabels() ? null
                        : NativeMemory.floats(d.targets()).position((long) first * arch.outputs());
                return s.net.forward(px, count, null, lab, tgt);
            } finally {
                release(s);
            }
        }

        @Override
        public void close() {
            net.close();
            orderPtr.close();
            lrPtr.close();
        }
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
        InferenceSession s;
        while ((s = sessions.poll()) != null) {
            s.close();
        }
        params.close();
        if (grads != null) {
            grads.close();
            optState.close();
        }
    }
}
