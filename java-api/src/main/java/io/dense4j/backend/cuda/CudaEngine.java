package io.dense4j.backend.cuda;

import io.dense4j.backend.kernels.OpCodes;
import io.dense4j.data.Dataset;
import io.dense4j.internal.Cuda;
import io.dense4j.internal.NativeMemory;
import io.dense4j.internal.RowStaging;
import io.dense4j.layers.Architecture;
import io.dense4j.nativelib.CudaKernels;
import io.dense4j.optim.Optimizer;
import io.dense4j.tensor.Tensor;
import io.dense4j.train.LossStats;
import io.dense4j.train.NonFiniteLossException;
import io.dense4j.train.TrainingSession;
import java.util.function.LongConsumer;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * A model's engine on one CUDA device: owns ALL of the model's device memory (parameters, gradients, optimizer
 * state, device copies of the data of a running fit, the row order, staging buffers) and its CUDA networks (one
 * for inference, one per training run). {@link #close()} frees everything.
 *
 * <p>The backend's HOST buffers stay the source of truth between operations: parameters are uploaded lazily
 * when the host copy changed ({@link #hostParamsChanged()}), and downloaded when they are read
 * ({@link #syncToHost()}: callbacks, saves) and at the end of every fit, with the optimizer state. Layouts are the
 * CPU backend's (one contiguous buffer W0, b0, W1, b1...; state slot j of parameter i at {@code j*n + i}).
 *
 * <p>Thread-safe: every operation holds one lock per model (the GPU work of a model is serialized), and
 * selects the device for the calling thread first (the native current device is per thread).
 */
final class CudaEngine implements AutoCloseable {
    /** Rows per kernel pass of the inference network (it processes any row count in such chunks). */
    public static final int INFERENCE_BATCH = 1024;
    /** Rows per host-to-device round trip of evaluate / predict from host memory (bounds the staging buffers). */
    static final int STAGE_ROWS = 4096;
    /** Rows of the host staging buffer of {@link #predict(int, float[][], float[][])}. */
    static final int PREDICT_ROWS = 256;

    private final int device;
    private final Architecture arch;
    private final FloatPointer hostParams;
    private final long n;
    private final int in;
    private final int out;
    private final int[] sizes;
    private final int[] acts;
    private final float[] dropout;
    private final ReentrantLock lock = new ReentrantLock();

    // everything below is guarded by lock
    private Cuda.Buffer params;
    private Cuda.Buffer grads;     // allocated by the first training run
    private Cuda.Buffer optState;  // idem; uploaded from the host at the start of every run
    private boolean deviceStale;   // the host parameters changed since the last upload
    private boolean hostStale;     // the device parameters were trained since the last download
    private boolean optStateStale; // the device optimizer state was trained since the last download
    private CudaKernels.d4j_cuda_net inference;
    private int inferenceLoss = -1;
    private Cuda.Buffer stageX;
    private Cuda.Buffer stageOut;
    private Cuda.Buffer stageLabels;
    private Cuda.Buffer stageTargets;
    private FloatPointer predictIn;
    private FloatPointer predictOut;
    /** Device copies of the data sets of the running fit, by identity; emptied when the run ends. */
    private final Map<Dataset, DeviceData> dataCache = new IdentityHashMap<>();
    private final double[] stats = new double[3];
    private boolean closed;

    /**
     * Allocates the parameter buffer on device {@code device} for {@code arch}, over the model's host parameter
     * buffer (borrowed, never freed here).
     *
     * @param upload copy the host parameters now (else at the first use, e.g. after a fit initialized them)
     * @throws UnsupportedOperationException when CUDA or that device is not available
     */
    CudaEngine(int device, Architecture arch, FloatPointer hostParams, boolean upload) {
        Cuda.load();
        this.device = device;
        this.arch = arch;
        this.hostParams = hostParams;
        this.n = arch.parameterCount();
        this.in = arch.inputs();
        this.out = arch.outputs();
        this.sizes = arch.sizes().clone();
        this.acts = OpCodes.activations(arch);
        this.dropout = arch.dropout();
        lock.lock();
        try {
            Cuda.select(device);
            params = new Cuda.Buffer(n * 4, "the parameters");
            deviceStale = true;
            if (upload) {
                ensureParams();
            }
        } catch (RuntimeException e) {
            freeAll();
            throw e;
        } finally {
            lock.unlock();
        }
    }

    /** The CUDA device index. */
    int device() {
        return device;
    }

    /** The host parameters changed (initialize, setParameters, load): upload them before the next GPU use. */
    void hostParamsChanged() {
        lock.lock();
        try {
            deviceStale = true;
            hostStale = false;
        } finally {
            lock.unlock();
        }
    }

    /** Copies trained device parameters to the host buffer if the device copy is newer. */
    void syncToHost() {
        lock.lock();
        try {
            enter(false);
            downloadParams();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Copies the device optimizer state to {@code hostOptState} if a running fit trained it since the last copy
     * (a checkpoint saved by a callback in the middle of a fit reads it; the end of a fit copies it anyway).
     */
    void syncOptimizerStateToHost(FloatPointer hostOptState) {
        lock.lock();
        try {
            if (optStateStale && optState != null && !closed) {
                enter(false);
                Cuda.check(CudaKernels.d4j_cuda_memcpy_d2h(hostOptState, optState.ptr(), optState.bytes),
                        "copying the optimizer state to the host");
                optStateStale = false;
            }
        } finally {
            lock.unlock();
        }
    }

    // ------------------------------------------------------------------------------------------ inference

    /**
     * Forward pass over rows [firstRow, firstRow+count) of host arrays (all at position 0): {@code x} [N, in],
     * {@code labels} [N] or {@code targets} [N, out] (may be null); {@code hostOut} (may be null) receives
     * {@code count} rows of activated outputs from its row 0. Streams through device staging buffers. Returns
     * the loss stats (zero without labels/targets), as the CPU backend's forward pass.
     */
    LossStats forward(int lossCode, FloatPointer x, long firstRow, long count, FloatPointer hostOut,
                            IntPointer labels, FloatPointer targets) {
        lock.lock();
        try {
            enter(true);
            ensureInference(lossCode);
            ensureStaging();
            double[] st = new double[3];
            for (long r = 0; r < count; r += STAGE_ROWS) {
                int c = (int) Math.min(STAGE_ROWS, count - r);
                long row = firstRow + r;
                h2d(stageX, bytes(x, row * in * 4), (long) c * in * 4);
                if (labels != null) {
                    h2d(stageLabels, bytes(labels, row * 4), (long) c * 4);
                }
                if (targets != null) {
                    h2d(stageTargets, bytes(targets, row * out * 4), (long) c * out * 4);
                }
                stats[0] = stats[1] = stats[2] = 0;
                Cuda.check(CudaKernels.d4j_cuda_net_forward(inference, stageX.ptr(), CudaKernels.DATA_F32, 1f, c,
                        hostOut == null ? null : stageOut.floats(0), labels == null ? null : stageLabels.ints(0),
                        targets == null ? null : stageTargets.floats(0), stats), "the forward pass");
                for (int i = 0; i < 3; i++) {
                    st[i] += stats[i];
                }
                if (hostOut != null) {
                    Cuda.check(CudaKernels.d4j_cuda_memcpy_d2h(bytes(hostOut, r * out * 4), stageOut.ptr(),
                            (long) c * out * 4), "copying outputs to the host");
                }
            }
            return new LossStats(st[0], st[1], st[2]);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Activated outputs of already-normalized rows into {@code result} (rows.length arrays of width out): the
     * latency path of single-row predict (one upload, one forward pass, one download per 256 rows).
     */
    void predict(int lossCode, float[][] rows, float[][] result) {
        lock.lock();
        try {
            enter(true);
            ensureInference(lossCode);
            ensureStaging();
            if (predictIn == null) {
                predictIn = new FloatPointer((long) PREDICT_ROWS * in);
                predictOut = new FloatPointer((long) PREDICT_ROWS * out);
            }
            RowStaging.run(rows, result, PREDICT_ROWS, predictIn, in, predictOut, out, nb -> {
                h2d(stageX, predictIn, (long) nb * in * 4);
                Cuda.check(CudaKernels.d4j_cuda_net_forward(inference, stageX.ptr(), CudaKernels.DATA_F32, 1f, nb,
                        stageOut.floats(0), null, null, stats), "the forward pass");
                Cuda.check(CudaKernels.d4j_cuda_memcpy_d2h(predictOut, stageOut.ptr(), (long) nb * out * 4),
                        "copying outputs to the host");
            });
        } finally {
            lock.unlock();
        }
    }

    // ------------------------------------------------------------------------------------------ training

    /**
     * Starts a training run: creates the CUDA training network (batch rows per step), uploads the host
     * optimizer state and the training data (cached for the run), and continues from optimizer step
     * {@code step}. The run's {@code close()} downloads parameters and optimizer state to the host buffers.
     *
     * @param train        normalized training data; rows [0, nTrain) are trained on
     * @param hostOptState the model's host optimizer state [3n] (read now, written back at close)
     * @param stepSink     receives the optimizer step after every call (also a failed one)
     */
    TrainingSession startTraining(int lossCode, boolean sparseLabels, int batch, Optimizer opt,
                                  FloatPointer hostOptState, long step, LongConsumer stepSink, Dataset train,
                                  int nTrain) {
        lock.lock();
        try {
            enter(true);
            if (grads == null) {
                grads = new Cuda.Buffer(n * 4, "the gradients");
                optState = new Cuda.Buffer(n * 4 * CudaKernels.OPT_STATE_PER_PARAM, "the optimizer state");
            }
            h2d(optState, hostOptState, optState.bytes);
            return new CudaTrainingRun(lossCode, sparseLabels, batch, opt, hostOptState, step, stepSink, train, nTrain);
        } finally {
            lock.unlock();
        }
    }

    private final class CudaTrainingRun implements TrainingSession {
        private final int lossCode;
        private final boolean sparse;
        private final FloatPointer hostOptState;
        private final LongConsumer stepSink;
        private final int nTrain;
        private final long[] step = new long[1];
        private final double[] st = new double[3];
        private final DeviceData data;
        private final Cuda.Buffer order;
        private final IntPointer hostOrder;
        private CudaKernels.d4j_cuda_net net;

        CudaTrainingRun(int lossCode, boolean sparse, int batch, Optimizer opt, FloatPointer hostOptState, long step0,
                        LongConsumer stepSink, Dataset train, int nTrain) {
            this.lossCode = lossCode;
            this.sparse = sparse;
            this.hostOptState = hostOptState;
            this.stepSink = stepSink;
            this.nTrain = nTrain;
            this.step[0] = step0;
            IntPointer ho = null;
            Cuda.Buffer ord = null;
            try {
                this.data = deviceData(train, sparse);
                ord = new Cuda.Buffer((long) nTrain * 4, "the row order");
                ho = new IntPointer(nTrain);
                CudaKernels.d4j_cuda_net h = CudaKernels.d4j_cuda_net_create(arch.layers(), sizes, acts, dropout,
                        lossCode, batch, params.floats(0), grads.floats(0), OpCodes.optimizer(opt),
                        OpCodes.hyperparameters(opt), optState.floats(0), (float) opt.clipNorm(),
                        (float) opt.clipValue());
                if (h == null || h.isNull()) {
                    throw new IllegalStateException("creating the CUDA training network failed: " + CudaKernels.lastError());
                }
                this.net = h;
            } catch (RuntimeException e) {
                if (ord != null) {
                    ord.close();
                }
                if (ho != null) {
                    ho.close();
                }
                clearDataCache();
                throw e;
            }
            this.order = ord;
            this.hostOrder = ho;
        }

        @Override
        public long step() {
            return step[0];
        }

        @Override
        public void order(int[] o) {
            lock.lock();
            try {
                enter(false);
                hostOrder.position(0).put(o, 0, nTrain);
                h2d(order, hostOrder, (long) nTrain * 4);
            } finally {
                lock.unlock();
            }
        }

        @Override
        public LossStats train(long first, int batch, int nBatches, float[] lrs, long seed) {
            lock.lock();
            try {
                enter(true);
                st[0] = st[1] = st[2] = 0;
                int rc = CudaKernels.d4j_cuda_net_train(net, data.x.ptr(), CudaKernels.DATA_F32, 1f,
                        sparse ? data.labels.ints(0) : null, sparse ? null : data.targets.floats(0), order.ints(0),
                        nTrain, first, batch, nBatches, lrs, step, seed, st);
                hostStale = true; // even after a failure, the updates before it were applied
                optStateStale = true;
                stepSink.accept(step[0]);
                if (rc == CudaKernels.ERR_NONFINITE) {
                    throw new NonFiniteLossException("the loss became NaN or infinite at training step " + (step[0] + 1)
                            + "; the update was not applied. Lower the learning rate, clip gradients, or check the data");
                }
                Cuda.check(rc, "training step " + (step[0] + 1));
                return new LossStats(st[0], st[1], st[2]);
            } finally {
                lock.unlock();
            }
        }

        @Override
        public LossStats evaluate(Dataset d, int first, int count) {
            lock.lock();
            try {
                enter(true);
                ensureInference(lossCode);
                DeviceData dd = deviceData(d, sparse);
                stats[0] = stats[1] = stats[2] = 0;
                Cuda.check(CudaKernels.d4j_cuda_net_forward(inference, dd.x.at((long) first * in * 4),
                        CudaKernels.DATA_F32, 1f, count, null, sparse ? dd.labels.ints(first) : null,
                        sparse ? null : dd.targets.floats((long) first * out), stats), "the validation pass");
                return new LossStats(stats[0], stats[1], stats[2]);
            } finally {
                lock.unlock();
            }
        }

        @Override
        public void close() {
            lock.lock();
            try {
                if (net == null) {
                    return;
                }
                try {
                    if (!closed) {
                        // the host copies are the source of truth between operations
                        Cuda.select(device);
                        downloadParams();
                        Cuda.check(CudaKernels.d4j_cuda_memcpy_d2h(hostOptState, optState.ptr(),
                                optState.bytes), "copying the optimizer state to the host");
                        optStateStale = false;
                    }
                } finally {
                    CudaKernels.d4j_cuda_net_destroy(net);
                    net = null;
                    order.close();
                    hostOrder.close();
                    clearDataCache();
                }
            } finally {
                lock.unlock();
            }
        }
    }

    // ------------------------------------------------------------------------------------------ internals

    /** A data set's device copy: features F32 [N, in], and labels int32 [N] or targets F32 [N, out]. */
    private record DeviceData(Cuda.Buffer x, Cuda.Buffer labels, Cuda.Buffer targets) implements AutoCloseable {
        @Override
        public void close() {
            x.close();
            if (labels != null) {
                labels.close();
            }
            if (targets != null) {
                targets.close();
            }
        }
    }

    /** Uploads a data set once per run (cached by identity: the training set serves its held-out tail too). */
    private DeviceData deviceData(Dataset d, boolean sparse) {
        DeviceData dd = dataCache.get(d);
        if (dd != null) {
            return dd;
        }
        long rows = d.size();
        Cuda.Buffer x = new Cuda.Buffer(rows * in * 4, "the data set's features");
        Cuda.Buffer lab = null;
        Cuda.Buffer tgt = null;
        try {
            // uint8 rows go up as the floats they stand for (the CPU engine's values, bit for bit)
            try (Tensor floats = d.features().dtype() == Tensor.DType.UINT8 ? d.features().toFloat32() : null) {
                h2d(x, NativeMemory.floats(floats != null ? floats : d.features()), x.bytes);
            }
            if (sparse) {
                lab = new Cuda.Buffer(rows * 4, "the labels");
                h2d(lab, NativeMemory.ints(d.labels()), lab.bytes);
            } else {
                tgt = new Cuda.Buffer(rows * out * 4, "the targets");
                h2d(tgt, NativeMemory.floats(d.targets()), tgt.bytes);
            }
        } catch (RuntimeException e) {
            x.close();
            if (lab != null) {
                lab.close();
            }
            if (tgt != null) {
                tgt.close();
            }
            throw e;
        }
        dd = new DeviceData(x, lab, tgt);
        dataCache.put(d, dd);
        return dd;
    }

    private void clearDataCache() {
        for (DeviceData dd : dataCache.values()) {
            dd.close();
        }
        dataCache.clear();
    }

    /** Entry of every operation (lock held): open, this thread on our device, parameters current if asked. */
    private void enter(boolean needParams) {
        if (closed) {
            throw new IllegalStateException("the model's CUDA engine was closed (model moved to another device or closed)");
        }
        Cuda.select(device);
        if (needParams) {
            ensureParams();
        }
    }

    private void ensureParams() {
        if (deviceStale) {
            h2d(params, hostParams, n * 4);
            deviceStale = false;
            hostStale = false;
        }
    }

    private void downloadParams() {
        if (hostStale) {
            Cuda.check(CudaKernels.d4j_cuda_memcpy_d2h(hostParams, params.ptr(), n * 4),
                    "copying the parameters to the host");
            hostStale = false;
        }
    }

    private void ensureInference(int lossCode) {
        if (inference != null && inferenceLoss == lossCode) {
            return;
        }
        if (inference != null) {
            CudaKernels.d4j_cuda_net_destroy(inference);
            inference = null;
        }
        CudaKernels.d4j_cuda_net h = CudaKernels.d4j_cuda_net_create(arch.layers(), sizes, acts, dropout, lossCode,
                INFERENCE_BATCH, params.floats(0), null, 0, null, null, 0f, 0f);
        if (h == null || h.isNull()) {
            throw new IllegalStateException("creating the CUDA inference network failed: " + CudaKernels.lastError());
        }
        inference = h;
        inferenceLoss = lossCode;
    }

    private void ensureStaging() {
        if (stageX == null) {
            stageX = new Cuda.Buffer((long) STAGE_ROWS * in * 4, "staging inputs");
            stageOut = new Cuda.Buffer((long) STAGE_ROWS * out * 4, "staging outputs");
            stageLabels = new Cuda.Buffer((long) STAGE_ROWS * 4, "staging labels");
            stageTargets = new Cuda.Buffer((long) STAGE_ROWS * out * 4, "staging targets");
        }
    }

    /** An untyped view of a host array at a byte offset (JavaCPP applies a void* argument's position in bytes). */
    private static Pointer bytes(Pointer host, long byteOffset) {
        return new Pointer(host).position(byteOffset);
    }

    /**
     * Copies host memory (at position 0) to the device and waits for it: a copy from pageable host memory may
     * return before its DMA has landed, and the networks run on their own non-blocking streams, so without the
     * wait a kernel could read a stale upload. (A few microseconds; uploads are per call, never per step.)
     */
    private static void h2d(Cuda.Buffer dst, Pointer hostSrc, long bytes) {
        Cuda.check(CudaKernels.d4j_cuda_memcpy_h2d(dst.ptr(), bytes(hostSrc, 0), bytes), "copying to the GPU");
        Cuda.check(CudaKernels.d4j_cuda_synchronize(), "waiting for a copy to the GPU");
    }

    /** Frees every device buffer and network; the engine cannot be used afterwards. Idempotent. */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            try {
                Cuda.select(device);
            } catch (RuntimeException ignored) {
                // freeing still works on the current device, or fails harmlessly when the context is gone
            }
            freeAll();
        } finally {
            lock.unlock();
        }
    }

    private void freeAll() {
        clearDataCache();
        if (inference != null) {
            CudaKernels.d4j_cuda_net_destroy(inference);
            inference = null;
        }
        for (Cuda.Buffer b : new Cuda.Buffer[] {params, grads, optState, stageX, stageOut, stageLabels, stageTargets}) {
            if (b != null) {
                b.close();
            }
        }
        params = grads = optState = stageX = stageOut = stageLabels = stageTargets = null;
        if (predictIn != null) {
            predictIn.close();
            predictOut.close();
            predictIn = predictOut = null;
        }
    }
}
