package io.dense4j.backend.cpu;

import io.dense4j.backend.HostStateBackend;
import io.dense4j.backend.kernels.OpCodes;
import io.dense4j.data.Dataset;
import io.dense4j.internal.NativeMemory;
import io.dense4j.internal.RowStaging;
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
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * The CPU backend: our C++ kernels (own GEMM microkernels, dispatched by ISA) over host buffers. All weights and biases live in ONE
 * contiguous native buffer, and so do the gradients and the optimizer state: a whole training step is one pass of
 * native code over them, and a training session trains them in place. Inference uses a pool of per-thread native
 * workspaces over the shared read-only parameters, so concurrent predicts never share one.
 */
public final class CpuBackend extends HostStateBackend {
    /** Rows per native call at inference: bounds the per-thread workspace. */
    static final int INFERENCE_BATCH = 256;

    private final FloatPointer paramsPtr;
    private Tensor grads; // allocated by the first training session
    /**
     * The optimizer state the engine trains: the host state's slots, each padded to start on a 64-byte line
     * ({@code engineStride} floats apart, d4j_opt_state_stride), so that threads updating different columns of a
     * layer never write one cache line of it. Copied in when a session opens (or the host state is replaced
     * during one) and back when it closes or the host state is read.
     */
    private Tensor engineState;
    private long engineStride;
    private int openSessions;
    private final ConcurrentLinkedQueue<InferenceSession> sessions = new ConcurrentLinkedQueue<>();

    /** Allocates zeroed parameters; the native library loads with the first network (predict, fit, evaluate). */
    public CpuBackend(Architecture arch) {
        super(arch);
        this.paramsPtr = NativeMemory.floats(parameterBuffer());
    }

    /** Threads of the CPU kernels (Dense4J's own pool); see {@code Dense4J.setThreads}. Loads the native library. */
    public static void setThreads(int n) {
        CpuKernels.d4j_set_num_threads(n);
    }

    public static int threads() {
        KernelThread k = KernelThread.current(); // the kernels of a team on a kernel thread run there
        return k != null ? k.threads() : CpuKernels.d4j_get_num_threads();
    }

    @Override
    public Device device() {
        return Device.cpu();
    }

    /** Retires the inference workspaces built for the previous loss. */
    @Override
    protected void compiled() {
        InferenceSession stale;
        while ((stale = sessions.poll()) != null) {
            stale.close();
        }
    }

    @Override
    protected TrainingSession openSession(Dataset train, int nTrain, int batch) {
        long n = architecture().parameterCount();
        if (grads == null) {
            grads = Tensor.zeros(n);
        }
        if (engineState == null) {
            CpuKernels.load();
            engineStride = CpuKernels.d4j_opt_state_stride(n);
            engineState = Tensor.zeros(engineStride * OptimizerState.SLOTS);
        }
        if (openSessions == 0) {
            copyState(true);
        }
        CpuTrainingSession s = new CpuTrainingSession(train, nTrain, batch);
        openSessions++;
        return s;
    }

    /** A session's training may have changed the engine's state: the host copy is brought up to date. */
    @Override
    protected void syncOptimizerStateToHost() {
        if (openSessions > 0) {
            copyState(false);
        }
    }

    /** The host state was replaced (or zeroed) while a session is open: the engine trains on from the new one. */
    @Override
    protected void optimizerStateChanged() {
        if (openSessions > 0) {
            copyState(true);
        }
    }

    /** Copies every state slot between the host buffer (slots n floats apart) and the engine's (engineStride). */
    private void copyState(boolean toEngine) {
        long n = architecture().parameterCount();
        // byte views: Pointer.memcpy offsets its arguments by their positions counted in bytes
        BytePointer host = new BytePointer(NativeMemory.floats(optimizerStateBuffer()));
        BytePointer engine = new BytePointer(NativeMemory.floats(engineState));
        for (int slot = 0; slot < OptimizerState.SLOTS; slot++) {
            host.position(slot * n * Float.BYTES);
            engine.position(slot * engineStride * Float.BYTES);
            if (toEngine) {
                Pointer.memcpy(engine, host, n * Float.BYTES);
            } else {
                Pointer.memcpy(host, engine, n * Float.BYTES);
            }
        }
    }

    @Override
    public LossStats forward(Tensor x, Tensor outputs, Tensor labels, Tensor targets) {
        checkForward(x, outputs, labels, targets);
        InferenceSession s = acquire();
        try {
            return s.net.forward(CpuNetwork.Rows.of(x), x.dim(0), NativeMemory.floatsOrNull(outputs),
                    NativeMemory.intsOrNull(labels), NativeMemory.floatsOrNull(targets));
        } finally {
            release(s);
        }
    }

    @Override
    public float[][] predict(float[][] rows) {
        float[][] result = new float[rows.length][architecture().outputs()];
        InferenceSession s = acquire();
        try {
            RowStaging.run(rows, result, INFERENCE_BATCH, s.in, architecture().inputs(), s.out, architecture().outputs(),
                    nb -> s.net.forward(s.in, nb, s.out, null, null));
        } finally {
            release(s);
        }
        return result;
    }

    /** Per-thread native workspace for inference; pooled so that concurrent predicts never share one. */
    private final class InferenceSession {
        /** The loss its network computes statistics with: a later compile with another loss retires it. */
        final int builtFor = OpCodes.loss(loss());
        final CpuNetwork net = CpuNetwork.forInference(architecture(), builtFor, INFERENCE_BATCH, paramsPtr);
        final Tensor inTensor = Tensor.zeros(INFERENCE_BATCH, architecture().inputs());
        final Tensor outTensor = Tensor.zeros(INFERENCE_BATCH, architecture().outputs());
        final FloatPointer in = NativeMemory.floats(inTensor);
        final FloatPointer out = NativeMemory.floats(outTensor);

        void close() {
            net.close();
            inTensor.close();
            outTensor.close();
        }
    }

    /** A workspace for one call, which is in flight (the backend's close waits for it) until {@link #release}. */
    private InferenceSession acquire() {
        enter();
        try {
            InferenceSession s = sessions.poll();
            return s != null ? s : new InferenceSession();
        } catch (RuntimeException | Error e) {
            exit();
            throw e;
        }
    }

    private void release(InferenceSession s) {
        try {
            if (s.builtFor != OpCodes.loss(loss())) {
                s.close();
            } else {
                sessions.offer(s);
            }
        } finally {
            exit();
        }
    }

    /** The CPU training session: the network trains the backend's buffers in place. */
    private final class CpuTrainingSession implements TrainingSession {
        private final CpuNetwork net;
        private final IntPointer orderPtr;
        private FloatPointer lrPtr;
        private final CpuNetwork.Rows x; // float rows, or bytes converted while gathered
        private final IntPointer labels;
        private final FloatPointer targets;
        private final int nTrain;
        private boolean closed;

        CpuTrainingSession(Dataset train, int nTrain, int batch) {
            Loss loss = loss();
            Optimizer optimizer = optimizer();
            this.x = CpuNetwork.Rows.of(train.features());
            this.labels = loss.sparseLabels() ? NativeMemory.ints(train.labels()) : null;
            this.targets = loss.sparseLabels() ? null : NativeMemory.floats(train.targets());
            this.nTrain = nTrain;
            this.net = CpuNetwork.forTraining(architecture(), OpCodes.loss(loss), batch, paramsPtr,
                    NativeMemory.floats(grads), OpCodes.optimizer(optimizer), OpCodes.hyperparameters(optimizer),
                    NativeMemory.floats(engineState), engineStride, (float) optimizer.clipNorm(),
                    (float) optimizer.clipValue());
            this.orderPtr = new IntPointer(nTrain);
            this.lrPtr = new FloatPointer(64);
            net.setStep(CpuBackend.this.step());
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
                setStep(net.step()); // even after a failure, the updates before it were applied
            }
        }

        @Override
        public LossStats evaluate(Dataset d, int first, int count) {
            InferenceSession s = acquire();
            try {
                boolean sparse = loss().sparseLabels();
                CpuNetwork.Rows px = CpuNetwork.Rows.of(d.features()).from(first);
                IntPointer lab = sparse ? NativeMemory.ints(d.labels()).position(first) : null;
                FloatPointer tgt = sparse ? null
                        : NativeMemory.floats(d.targets()).position((long) first * architecture().outputs());
                return s.net.forward(px, count, null, lab, tgt);
            } finally {
                release(s);
            }
        }

        @Override
        public void close() {
            if (closed) {
                return;
            }
            closed = true;
            openSessions--;
            if (!isClosed()) { // (a callback may have closed the model: its buffers are gone, nothing to keep)
                copyState(false); // the host state is the source of truth between sessions
            }
            net.close();
            orderPtr.close();
            lrPtr.close();
        }
    }

    /** Frees the inference workspaces and the gradients; the host buffers are the base's. */
    @Override
    protected void releaseDevice() {
        InferenceSession s;
        while ((s = sessions.poll()) != null) {
            s.close();
        }
        if (grads != null) {
            grads.close();
        }
        if (engineState != null) {
            engineState.close();
        }
    }
}
