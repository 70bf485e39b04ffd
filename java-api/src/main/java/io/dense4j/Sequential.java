package io.dense4j;

import io.dense4j.data.Dataset;
import io.dense4j.data.Normalizer;
import io.dense4j.engine.Architecture;
import io.dense4j.engine.CpuNetwork;
import io.dense4j.engine.CudaEngine;
import io.dense4j.engine.TrainingRun;
import io.dense4j.io.ModelFile;
import io.dense4j.layers.Layer;
import io.dense4j.nativelib.CpuKernels;
import io.dense4j.optim.Optimizer;
import io.dense4j.tensor.Device;
import io.dense4j.tensor.Tensor;
import io.dense4j.train.Callback;
import io.dense4j.train.EpochLog;
import io.dense4j.train.Evaluation;
import io.dense4j.train.Fit;
import io.dense4j.train.History;
import io.dense4j.train.Loss;
import io.dense4j.train.Metric;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;

/**
 * A stack of Dense (and Dropout) layers, trained by the native engine.
 *
 * <pre>{@code
 * var model = Sequential.of(Dense.of(784, 128, Activation.RELU), Dense.of(128, 10, Activation.SOFTMAX));
 * model.compile(Optimizers.adam(1e-3), Losses.SPARSE_CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
 * History h = model.fit(train, Fit.epochs(5).batchSize(32).validationSplit(0.1).seed(42));
 * }</pre>
 *
 * <p>All weights and biases live in ONE contiguous native buffer (W0, b0, W1, b1, ...), and so do the
 * gradients and the optimizer state: a whole training step is one pass of native code over them. Weights are
 * initialized on first use: by the first {@code fit} with its seed, or with seed 0 by an earlier predict.
 *
 * <p>A model runs on the CPU unless moved with {@link #to(Device)}: on a CUDA device it trains, evaluates and
 * predicts with the CUDA kernels, with the same loop, the same shuffling and the same results up to floating-point
 * rounding. The host parameter buffer stays the source of truth between operations, so saving and loading,
 * {@link #parameters()} and the callbacks work the same on either device, and a file saved from one loads on both.
 *
 * <p>{@code predict} may be called from many threads at once (on a GPU the calls are serialized per model);
 * {@code fit}, {@code compile}, {@code to} and {@code setParameters} must not run concurrently with anything else
 * on the same model.
 */
public final class Sequential extends Model {
    /** Rows per native call at inference: bounds the per-thread workspace. */
    static final int INFERENCE_BATCH = 256;
    /** Training steps per native call: progress and callbacks are reported between calls. */
    static final int STEPS_PER_CALL = 64;

    private final List<Layer> layers;
    private final Architecture arch;
    private final Tensor params;
    private boolean initialized;

    private Optimizer optimizer;
    private Loss loss;
    private List<Metric> metrics = List.of();
    private Tensor grads;
    private Tensor optState;
    private long optimizerStep;

    private Normalizer normalizer;
    private List<String> classNames = List.of();
    private Map<String, Object> trainingInfo = new LinkedHashMap<>();

    private final ConcurrentLinkedQueue<InferenceSession> sessions = new ConcurrentLinkedQueue<>();
    private volatile boolean closed;

    private Device device = Device.cpu();
    /** The model's CUDA engine (device buffers and networks) while it is on a GPU; null on the CPU. */
    private volatile CudaEngine cuda;

    private Sequential(List<Layer> layers) {
        this.layers = List.copyOf(layers);
        this.arch = Architecture.of(this.layers);
        this.params = Tensor.zeros(arch.parameterCount());
    }

    /** Builds a model from its layers; the first Dense layer must state its input width. */
    public static Sequential of(Layer... layers) {
        return new Sequential(Arrays.asList(layers));
    }

    public static Sequential of(List<Layer> layers) {
        return new Sequential(layers);
    }

    // ---------------------------------------------------------------------------------------------- setup

    /**
     * Sets the optimizer, loss and metrics, and resets the optimizer state. Checks that the loss suits the
     * output layer (e.g. softmax for categorical cross-entropy).
     */
    public Sequential compile(Optimizer optimizer, Loss loss, Metric... metrics) {
        checkOpen();
        loss.checkOutputActivation(arch.activations()[arch.layers() - 1]);
        if (loss == Loss.SPARSE_CATEGORICAL_CROSSENTROPY || loss == Loss.CATEGORICAL_CROSSENTROPY) {
            if (arch.outputs() < 2) {
                throw new IllegalArgumentException(loss.configName() + " needs at least 2 output units, the model has "
                        + arch.outputs());
            }
        }
        this.optimizer = optimizer;
        this.loss = loss;
        this.metrics = List.of(metrics);
        if (grads == null) {
            grads = Tensor.zeros(arch.parameterCount());
            optState = Tensor.zeros(arch.parameterCount() * CpuKernels.OPT_STATE_PER_PARAM);
        } else {
            FloatPointer s = optState.floats();
            s.zero();
        }
        optimizerStep = 0;
        InferenceSession stale;
        while ((stale = sessions.poll()) != null) {
            stale.close(); // built for the previous loss
        }
        return this;
    }

    /**
     * Attaches preprocessing that the model applies to every input (fit, evaluate, predict) and saves with
     * itself. An unfitted normalizer is fitted on the training rows (never the validation rows) by the next fit.
     */
    public Sequential preprocessing(Normalizer n) {
        this.normalizer = n;
        return this;
    }

    public Normalizer preprocessing() {
        return normalizer;
    }

    /** Names of the output classes, saved with the model (the server reports them). */
    public Sequential classNames(List<String> names) {
        if (!names.isEmpty() && names.size() != arch.outputs()) {
            throw new IllegalArgumentException(names.size() + " class names for " + arch.outputs() + " outputs");
        }
        this.classNames = List.copyOf(names);
        return this;
    }

    /** Initializes the weights with {@code seed} (Glorot-uniform kernels by default, zero biases). */
    public Sequential initialize(long seed) {
        checkOpen();
        SplittableRandom rng = new SplittableRandom(seed);
        FloatPointer p = params.floats();
        for (int l = 0; l < arch.layers(); l++) {
            int in = arch.sizes()[l];
            int out = arch.sizes()[l + 1];
            float[] w = new float[in * out];
            arch.initializers()[l].fill(w, in, out, rng.split());
            p.position(arch.kernelOffset(l)).put(w);
            p.position(arch.biasOffset(l)).put(new float[out]);
        }
        p.position(0);
        initialized = true;
        hostParamsChanged();
        return this;
    }

    /** The host parameters changed: a GPU copy must be refreshed before its next use. */
    private void hostParamsChanged() {
        CudaEngine e = cuda;
        if (e != null) {
            e.hostParamsChanged();
        }
    }

    private void ensureInitialized(long seed) {
        if (!initialized) {
            initialize(seed);
        }
    }

    // ---------------------------------------------------------------------------------------------- device

    /**
     * Moves the model to {@code target} and returns it. To a CUDA device: the parameters are uploaded (and the
     * optimizer state at each fit), and fit, evaluate and predict run there (FP32 unless
     * {@link io.dense4j.tensor.CudaSettings} says TF32). To the CPU: the device copies are dropped and their
     * memory freed (the host copies are already current). Moving to the device the model is on does nothing.
     *
     * @throws UnsupportedOperationException saying why when the CUDA device cannot be used
     */
    @Override
    public Sequential to(Device target) {
        checkOpen();
        if (target.equals(device)) {
            return this;
        }
        CudaEngine old = cuda;
        CudaEngine next = target.isCpu() ? null : new CudaEngine(target.index(), arch, params, initialized);
        if (old != null) {
            // the host copies are current between operations; this is a no-op unless a fit was interrupted
            old.syncToHost();
            old.close();
        }
        cuda = next;
        device = target;
        return this;
    }

    /** The device the model runs on ({@link Device#cpu()} until moved with {@link #to(Device)}). */
    @Override
    public Device device() {
        return device;
    }

    // ---------------------------------------------------------------------------------------------- training

    /** Trains on {@code data}; see {@link Fit} for the settings. Returns the per-epoch metrics. */
    public History fit(Dataset data, Fit fit) {
        checkOpen();
        if (loss == null) {
            throw new IllegalStateException("compile the model (optimizer, loss) before fit");
        }
        checkData(data, "training data");
        ensureInitialized(fit.seed());

        int n = data.size();
        int nTrain = n;
        Dataset validation = fit.validationData();
        if (fit.validationSplit() > 0) {
            // Keras semantics: the last fraction of the rows, before shuffling
            nTrain = n - (int) Math.round(n * fit.validationSplit());
            if (nTrain < 1 || nTrain == n) {
                throw new IllegalArgumentException("validation split " + fit.validationSplit() + " of " + n
                        + " rows leaves " + nTrain + " training rows and " + (n - nTrain) + " validation rows");
            }
        }
        if (validation != null) {
            checkData(validation, "validation data");
        }

        List<AutoCloseable> owned = new ArrayList<>();
        try {
            Dataset train = data;
            if (normalizer != null) {
                // normalize copies: the caller's data stays as it was; statistics come from training rows only
                int[] trainRows = range(0, nTrain);
                if (!normalizer.isFitted()) {
                    try (Dataset fitRows = data.subset(trainRows)) {
                        normalizer.fit(fitRows);
                    }
                }
                train = data.subset(range(0, n));
                owned.add(train);
                normalizer.apply(train.features());
                if (validation != null) {
                    validation = validation.subset(range(0, validation.size()));
                    owned.add(validation);
                    normalizer.apply(validation.features());
                }
            }
            return runFit(train, nTrain, validation, fit);
        } finally {
            for (AutoCloseable c : owned) {
                try {
                    c.close();
                } catch (Exception ignored) {
                    // closing native tensors does not fail
                }
            }
        }
    }

    private History runFit(Dataset train, int nTrain, Dataset validation, Fit fit) {
        int batch = Math.min(fit.batchSize(), nTrain);
        int stepsPerEpoch = (nTrain + batch - 1) / batch;
        int callSteps = Math.min(STEPS_PER_CALL, stepsPerEpoch);
        History history = new History();
        SplittableRandom shuffleRng = new SplittableRandom(fit.seed() ^ 0x5DEECE66DL);
        int[] order = range(0, nTrain);
        float[] lrs = new float[callSteps];
        List<Callback> callbacks = fit.callbacks();
        for (Callback c : callbacks) {
            c.onTrainBegin(this, fit, stepsPerEpoch);
        }
        // one loop for every device: only the native calls differ (TrainingRun)
        try (TrainingRun run = startTraining(train, nTrain, batch)) {
            for (int epoch = 0; epoch < fit.epochs(); epoch++) {
                for (Callback c : callbacks) {
                    c.onEpochBegin(epoch);
                }
                long t0 = System.nanoTime();
                if (fit.shuffle()) {
                    shuffle(order, shuffleRng);
                }
                run.order(order);
                double lossSum = 0;
                double correct = 0;
                double rows = 0;
                double lastLr = Double.NaN;
                for (int s = 0; s < stepsPerEpoch; s += callSteps) {
                    int nb = Math.min(callSteps, stepsPerEpoch - s);
                    long step0 = run.step();
                    for (int i = 0; i < nb; i++) {
                        lrs[i] = (float) optimizer.schedule().at(step0 + i, epoch);
                    }
                    lastLr = lrs[nb - 1];
                    double[] st;
                    try {
                        st = run.train((long) s * batch, batch, nb, lrs, fit.seed() + 0x9E3779B97F4A7C15L * (epoch + 1));
                    } finally {
                        optimizerStep = run.step();
                    }
                    lossSum += st[0];
                    correct += st[1];
                    rows += st[2];
                    for (Callback c : callbacks) {
                        c.onBatchProgress(epoch, s + nb, lossSum / rows, correct / (rows * accuracyDivisor()));
                    }
                }
                double valLoss = Double.NaN;
                double valAcc = Double.NaN;
                if (nTrain < train.size() || validation != null) {
                    double[] vs = validation != null ? run.stats(validation, 0, validation.size())
                            : run.stats(train, nTrain, train.size() - nTrain);
                    valLoss = vs[0] / vs[2];
                    valAcc = vs[1] / (vs[2] * accuracyDivisor());
                }
                // callbacks (checkpoints, early stopping) read and save the host parameters
                run.syncToHost();
                EpochLog log = new EpochLog(epoch, lossSum / rows, accuracyOrNaN(correct / (rows * accuracyDivisor())),
                        valLoss, accuracyOrNaN(valAcc), lastLr, (System.nanoTime() - t0) / 1e9);
                history.add(log);
                boolean stop = false;
                for (Callback c : callbacks) {
                    stop |= c.onEpochEnd(this, log);
                }
                if (stop && epoch + 1 < fit.epochs()) {
                    history.markStoppedEarly();
                    break;
                }
            }
        }
        for (Callback c : callbacks) {
            c.onTrainEnd(this, history);
        }
        recordTraining(train, fit, history, stepsPerEpoch);
        return history;
    }

    /** The training network of the model's device, bound to {@code train}, continuing from the current step. */
    private TrainingRun startTraining(Dataset train, int nTrain, int batch) {
        CudaEngine e = cuda;
        if (e != null) {
            return e.startTraining(loss.nativeCode(), loss.sparseLabels(), batch, optimizer, optState, optimizerStep,
                    train, nTrain);
        }
        return new CpuTrainingRun(train, nTrain, batch);
    }

    /** The CPU training run: the network trains the host buffers in place. */
    private final class CpuTrainingRun implements TrainingRun {
        private final CpuNetwork net;
        private final IntPointer orderPtr;
        private final FloatPointer lrPtr;
        private final Tensor x;
        private final Tensor labels;
        private final Tensor targets;
        private final int nTrain;

        CpuTrainingRun(Dataset train, int nTrain, int batch) {
            this.x = train.features();
            this.labels = loss.sparseLabels() ? train.labels() : null;
            this.targets = loss.sparseLabels() ? null : train.targets();
            this.nTrain = nTrain;
            this.net = CpuNetwork.forTraining(arch, loss.nativeCode(), batch, params, grads, optimizer, optState);
            this.orderPtr = new IntPointer(nTrain);
            this.lrPtr = new FloatPointer(Math.min(STEPS_PER_CALL, nTrain));
            net.setStep(optimizerStep);
        }

        @Override
        public long step() {
            return net.step();
        }

        @Override
        public void order(int[] order) {
            orderPtr.put(order);
        }

        @Override
        public double[] train(long first, int batch, int nBatches, float[] lrs, long seed) {
            lrPtr.put(lrs, 0, nBatches);
            return net.train(x, labels, targets, orderPtr, nTrain, first, batch, nBatches, lrPtr, seed);
        }

        @Override
        public double[] stats(Dataset d, int first, int count) {
            return forwardStats(d, first, count);
        }

        @Override
        public void syncToHost() {
            // the CPU network trains the host buffers in place
        }

        @Override
        public void close() {
            net.close();
            orderPtr.close();
            lrPtr.close();
        }
    }

    private void recordTraining(Dataset train, Fit fit, History history, int stepsPerEpoch) {
        Map<String, Object> t = new LinkedHashMap<>();
        t.put("epochs_run", history.epochs().size());
        t.put("batch_size", fit.batchSize());
        t.put("steps_per_epoch", stepsPerEpoch);
        t.put("optimizer_steps", optimizerStep);
        t.put("seed", fit.seed());
        t.put("training_rows", train.size());
        t.put("history", history.asMap());
        t.put("trained_at", java.time.Instant.now().toString());
        trainingInfo = t;
    }

    /** Accuracy counts elements for binary cross-entropy (one decision per output), rows otherwise. */
    private double accuracyDivisor() {
        return loss == Loss.BINARY_CROSSENTROPY ? arch.outputs() : 1;
    }

    private double accuracyOrNaN(double acc) {
        return loss == Loss.MEAN_SQUARED_ERROR ? Double.NaN : acc;
    }

    private static void shuffle(int[] a, SplittableRandom rng) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    private static int[] range(int from, int to) {
        int[] r = new int[to - from];
        for (int i = 0; i < r.length; i++) {
            r[i] = from + i;
        }
        return r;
    }

    /** Loss sum, correct count and rows of rows [first, first+count) of an already-normalized dataset. */
    private double[] forwardStats(Dataset d, int first, int count) {
        InferenceSession s = acquire();
        try {
            FloatPointer x = d.features().floats().getPointer((long) first * arch.inputs());
            IntPointer lab = loss.sparseLabels() ? d.labels().ints().getPointer(first) : null;
            FloatPointer tgt = loss.sparseLabels() ? null : d.targets().floats().getPointer((long) first * arch.outputs());
            return s.net.forward(x, count, null, lab, tgt);
        } finally {
            release(s);
        }
    }

    private void checkData(Dataset d, String what) {
        if (d.numFeatures() != arch.inputs()) {
            throw new IllegalArgumentException(what + " has " + d.numFeatures() + " features per row, the model takes "
                    + arch.inputs());
        }
        if (d.size() == 0) {
            throw new IllegalArgumentException(what + " is empty");
        }
        if (loss != null && loss.sparseLabels()) {
            if (d.labels() == null) {
                throw new IllegalArgumentException(loss.configName() + " needs integer class labels, but " + what
                        + " has float targets (use categorical_crossentropy for one-hot targets)");
            }
            int[] lab = d.labels().toIntArray();
            for (int i = 0; i < lab.length; i++) {
                if (lab[i] < 0 || lab[i] >= arch.outputs()) {
                    throw new IllegalArgumentException(what + ": label " + lab[i] + " at row " + i + " is outside [0, "
                            + arch.outputs() + ") for a model with " + arch.outputs() + " outputs");
                }
            }
        } else if (loss != null) {
            if (d.targets() == null) {
                throw new IllegalArgumentException(loss.configName() + " needs float targets of width " + arch.outputs()
                        + ", but " + what + " has integer labels (use sparse_categorical_crossentropy)");
            }
            if (d.targets().dim(1) != arch.outputs()) {
                throw new IllegalArgumentException(what + " targets have width " + d.targets().dim(1)
                        + ", the model has " + arch.outputs() + " outputs");
            }
            checkFinite(d.targets(), what + " targets");
        }
        checkFinite(d.features(), what);
    }

    /** NaN or infinite inputs would silently poison the weights: refuse them with their position. */
    private static void checkFinite(Tensor t, String what) {
        FloatPointer p = t.floats();
        long size = t.size();
        long width = t.rank() == 2 ? t.dim(1) : 1;
        float[] buf = new float[1 << 16];
        for (long off = 0; off < size; off += buf.length) {
            int len = (int) Math.min(buf.length, size - off);
            p.position(off).get(buf, 0, len);
            for (int i = 0; i < len; i++) {
                if (!Float.isFinite(buf[i])) {
                    p.position(0);
                    long idx = off + i;
                    throw new IllegalArgumentException(what + " contains " + buf[i] + " at row " + idx / width
                            + ", column " + idx % width);
                }
            }
        }
        p.position(0);
    }

    // ---------------------------------------------------------------------------------------------- evaluation

    /** Loss, accuracy, confusion matrix, per-class precision/recall/F1 and any top-k metric compiled in. */
    public Evaluation evaluate(Dataset data) {
        checkOpen();
        if (loss == null) {
            throw new IllegalStateException("compile the model (loss) before evaluate");
        }
        checkData(data, "evaluation data");
        ensureInitialized(0);
        Dataset d = data;
        try {
            if (normalizer != null) {
                d = data.subset(range(0, data.size()));
                normalizer.apply(d.features());
            }
            int n = d.size();
            int k = arch.outputs();
            try (Tensor probs = Tensor.zeros(n, k)) {
                double[] st = forward(d.features(), n, probs,
                        loss.sparseLabels() ? d.labels() : null, loss.sparseLabels() ? null : d.targets());
                double meanLoss = st[0] / st[2];
                if (loss == Loss.MEAN_SQUARED_ERROR) {
                    return new Evaluation(n, meanLoss, Double.NaN, null, Map.of(), classNames);
                }
                int[] truth = trueClasses(d);
                float[] p = probs.toFloatArray();
                int classes = loss == Loss.BINARY_CROSSENTROPY && k == 1 ? 2 : k;
                int[][] confusion = new int[classes][classes];
                Map<Integer, Double> topK = new TreeMap<>();
                topK.put(1, st[1] / (st[2] * accuracyDivisor()));
                List<Integer> ks = new ArrayList<>();
                for (Metric m : metrics) {
                    if (m.k() > 1) {
                        ks.add(m.k());
                    }
                }
                long[] topHits = new long[ks.size()];
                for (int r = 0; r < n; r++) {
                    int pred = classes == 2 && k == 1 ? (p[r] >= 0.5f ? 1 : 0) : argmax(p, r * k, k);
                    confusion[truth[r]][pred]++;
                    for (int j = 0; j < ks.size(); j++) {
                        if (rankOf(p, r * k, k, truth[r]) < ks.get(j)) {
                            topHits[j]++;
                        }
                    }
                }
                for (int j = 0; j < ks.size(); j++) {
                    topK.put(ks.get(j), (double) topHits[j] / n);
                }
                return new Evaluation(n, meanLoss, topK.get(1), confusion, topK, classNames);
            }
        } finally {
            if (d != data) {
                d.close();
            }
        }
    }

    private int[] trueClasses(Dataset d) {
        if (d.labels() != null) {
            return d.labels().toIntArray();
        }
        int n = d.size();
        int k = arch.outputs();
        float[] t = d.targets().toFloatArray();
        int[] c = new int[n];
        for (int r = 0; r < n; r++) {
            c[r] = k == 1 ? (t[r] >= 0.5f ? 1 : 0) : argmax(t, r * k, k);
        }
        return c;
    }

    private static int argmax(float[] v, int off, int k) {
        int best = 0;
        for (int j = 1; j < k; j++) {
            if (v[off + j] > v[off + best]) {
                best = j;
            }
        }
        return best;
    }

    /** How many classes score strictly higher than class c (0 = top-1). */
    private static int rankOf(float[] v, int off, int k, int c) {
        int rank = 0;
        for (int j = 0; j < k; j++) {
            if (v[off + j] > v[off + c]) {
                rank++;
            }
        }
        return rank;
    }

    // ---------------------------------------------------------------------------------------------- inference

    /** Per-thread native workspace for inference; pooled so that concurrent predicts never share one. */
    private final class InferenceSession {
        /** The loss its network computes statistics with: a later compile with another loss retires it. */
        final Loss builtFor = loss;
        final CpuNetwork net = CpuNetwork.forInference(arch, loss == null ? CpuKernels.LOSS_MSE : loss.nativeCode(),
                INFERENCE_BATCH, params);
        final Tensor in = Tensor.zeros(INFERENCE_BATCH, arch.inputs());
        final Tensor out = Tensor.zeros(INFERENCE_BATCH, arch.outputs());

        void close() {
            net.close();
            in.close();
            out.close();
        }
    }

    /**
     * Forward pass over the first n rows of host tensors on the model's device: outputs into {@code out} (may be
     * null), loss statistics when labels or targets are given. Returns loss sum, correct count, rows.
     */
    private double[] forward(Tensor x, long n, Tensor out, Tensor labels, Tensor targets) {
        int lossCode = loss == null ? CpuKernels.LOSS_MSE : loss.nativeCode();
        CudaEngine e = cuda;
        if (e != null) {
            return e.forward(lossCode, x.floats(), 0, n, out == null ? null : out.floats(),
                    labels == null ? null : labels.ints(), targets == null ? null : targets.floats());
        }
        InferenceSession s = acquire();
        try {
            return s.net.forward(x.floats(), n, out == null ? null : out.floats(),
                    labels == null ? null : labels.ints(), targets == null ? null : targets.floats());
        } finally {
            release(s);
        }
    }

    private InferenceSession acquire() {
        checkOpen();
        InferenceSession s = sessions.poll();
        return s != null ? s : new InferenceSession();
    }

    private void release(InferenceSession s) {
        if (closed || s.builtFor != loss) {
            s.close();
        } else {
            sessions.offer(s);
        }
    }

    @Override
    public float[] predict(float[] row) {
        return predict(new float[][] {row})[0];
    }

    @Override
    public float[][] predict(float[][] rows) {
        checkOpen();
        ensureInitialized(0);
        int d = arch.inputs();
        int k = arch.outputs();
        for (int r = 0; r < rows.length; r++) {
            if (rows[r] == null || rows[r].length != d) {
                throw new IllegalArgumentException("row " + r + " has " + (rows[r] == null ? 0 : rows[r].length)
                        + " features, the model takes " + d);
            }
            for (int j = 0; j < d; j++) {
                if (!Float.isFinite(rows[r][j])) {
                    throw new IllegalArgumentException("row " + r + " column " + j + " is " + rows[r][j]
                            + ": inputs must be finite");
                }
            }
        }
        float[][] result = new float[rows.length][k];
        CudaEngine e = cuda;
        if (e != null) {
            float[][] in = rows;
            if (normalizer != null) {
                in = new float[rows.length][];
                for (int r = 0; r < rows.length; r++) {
                    in[r] = rows[r].clone();
                    normalizer.applyRow(in[r]);
                }
            }
            e.predict(loss == null ? CpuKernels.LOSS_MSE : loss.nativeCode(), in, result);
            return result;
        }
        InferenceSession s = acquire();
        try {
            FloatPointer in = s.in.floats();
            FloatPointer out = s.out.floats();
            for (int start = 0; start < rows.length; start += INFERENCE_BATCH) {
                int nb = Math.min(INFERENCE_BATCH, rows.length - start);
                for (int r = 0; r < nb; r++) {
                    float[] row = rows[start + r];
                    if (normalizer != null) {
                        row = row.clone();
                        normalizer.applyRow(row);
                    }
                    in.position((long) r * d).put(row);
                }
                in.position(0);
                s.net.forward(in, nb, out, null, null);
                for (int r = 0; r < nb; r++) {
                    out.position((long) r * k).get(result[start + r]);
                }
                out.position(0);
            }
        } finally {
            release(s);
        }
        return result;
    }

    /** Outputs for every row of a [n, inputs] tensor, as a new [n, outputs] tensor (caller closes it). */
    public Tensor predict(Tensor x) {
        checkOpen();
        ensureInitialized(0);
        if (x.rank() != 2 || x.dim(1) != arch.inputs()) {
            throw new IllegalArgumentException("expected a [n, " + arch.inputs() + "] input, got " + Arrays.toString(x.shape()));
        }
        int n = Math.toIntExact(x.dim(0));
        Tensor out = Tensor.zeros(n, arch.outputs());
        Tensor in = x;
        try {
            if (normalizer != null) {
                in = x.copy();
                normalizer.apply(in);
            }
            forward(in, n, out, null, null);
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        } finally {
            if (in != x) {
                in.close();
            }
        }
    }

    /** Predicted class index per row (argmax; threshold 0.5 for a single sigmoid output). */
    public int[] predictClasses(float[][] rows) {
        float[][] p = predict(rows);
        int[] c = new int[p.length];
        for (int r = 0; r < p.length; r++) {
            c[r] = p[r].length == 1 ? (p[r][0] >= 0.5f ? 1 : 0) : argmax(p[r], 0, p[r].length);
        }
        return c;
    }

    // ---------------------------------------------------------------------------------------------- weights

    /** A copy of the whole parameter buffer (W0, b0, W1, b1, ...). */
    public float[] parameters() {
        checkOpen();
        ensureInitialized(0);
        return params.toFloatArray();
    }

    /** Replaces every parameter; the array must have {@link #parameterCount()} finite values. */
    public void setParameters(float[] values) {
        checkOpen();
        if (values.length != arch.parameterCount()) {
            throw new IllegalArgumentException("expected " + arch.parameterCount() + " parameters, got " + values.length);
        }
        for (int i = 0; i < values.length; i++) {
            if (!Float.isFinite(values[i])) {
                throw new IllegalArgumentException("parameter " + i + " is " + values[i]);
            }
        }
        params.floats().put(values);
        initialized = true;
        hostParamsChanged();
    }

    /** Layer l's kernel [inputs, units], row-major. */
    public float[] kernel(int l) {
        float[] w = new float[arch.sizes()[l] * arch.sizes()[l + 1]];
        params.floats().position(arch.kernelOffset(l)).get(w);
        params.floats().position(0);
        return w;
    }

    /** Layer l's bias [units]. */
    public float[] bias(int l) {
        float[] b = new float[arch.sizes()[l + 1]];
        params.floats().position(arch.biasOffset(l)).get(b);
        params.floats().position(0);
        return b;
    }

    public long parameterCount() {
        return arch.parameterCount();
    }

    /** The native parameter buffer (borrowed: do not close). */
    public Tensor parameterTensor() {
        return params;
    }

    // ---------------------------------------------------------------------------------------------- description

    public List<Layer> layers() {
        return layers;
    }

    public Architecture architecture() {
        return arch;
    }

    public Optimizer optimizer() {
        return optimizer;
    }

    public Loss loss() {
        return loss;
    }

    public List<Metric> metrics() {
        return metrics;
    }

    /** Number of optimizer updates applied so far (continues across fit calls until the next compile). */
    public long optimizerStep() {
        return optimizerStep;
    }

    public Map<String, Object> trainingInfo() {
        return trainingInfo;
    }

    @Override
    public int inputSize() {
        return arch.inputs();
    }

    @Override
    public int outputSize() {
        return arch.outputs();
    }

    @Override
    public List<String> classNames() {
        return classNames;
    }

    /** The model's config: layers, loss, optimizer and metrics, from which {@link #fromConfig} rebuilds it. */
    public Map<String, Object> config() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("class", "Sequential");
        List<Map<String, Object>> ls = new ArrayList<>();
        for (Layer l : layers) {
            ls.add(l.config());
        }
        c.put("layers", ls);
        if (loss != null) {
            c.put("loss", loss.configName());
            c.put("optimizer", optimizer.config());
            List<String> ms = new ArrayList<>();
            for (Metric m : metrics) {
                ms.add(m.name());
            }
            c.put("metrics", ms);
        }
        return c;
    }

    /** Rebuilds an untrained model (compiled when the config has a loss) from {@link #config()}. */
    @SuppressWarnings("unchecked")
    public static Sequential fromConfig(Map<String, Object> c) {
        if (!"Sequential".equals(c.get("class")) || !(c.get("layers") instanceof List<?> ls)) {
            throw new IllegalArgumentException("not a Sequential config: " + c);
        }
        List<Layer> layers = new ArrayList<>();
        for (Object o : ls) {
            layers.add(Layer.fromConfig((Map<String, Object>) o));
        }
        Sequential m = of(layers);
        if (c.get("loss") instanceof String lossName) {
            List<Metric> ms = new ArrayList<>();
            for (Object name : (List<Object>) c.getOrDefault("metrics", List.of())) {
                String s = String.valueOf(name);
                ms.add(s.equals("accuracy") ? Metric.accuracy()
                        : Metric.topK(Integer.parseInt(s.replaceAll("[^0-9]", ""))));
            }
            m.compile(Optimizer.fromConfig((Map<String, Object>) c.get("optimizer")), Loss.fromName(lossName),
                    ms.toArray(new Metric[0]));
        }
        return m;
    }

    /** A Keras-like table of the layers and their parameter counts. */
    public String summary() {
        StringBuilder b = new StringBuilder(String.format("%-8s %-10s %-12s %10s%n", "layer", "type", "output", "params"));
        int dense = 0;
        for (int i = 0; i < layers.size(); i++) {
            Layer l = layers.get(i);
            if (l instanceof io.dense4j.layers.Dense) {
                int in = arch.sizes()[dense];
                int out = arch.sizes()[dense + 1];
                b.append(String.format("%-8d %-10s %-12s %10d%n", i, "dense/" + arch.activations()[dense].configName(),
                        "(n, " + out + ")", (long) in * out + out));
                dense++;
            } else if (l instanceof io.dense4j.layers.Dropout d) {
                b.append(String.format("%-8d %-10s %-12s %10d%n", i, "dropout " + d.rate(), "", 0));
            }
        }
        b.append(String.format("total parameters: %d%n", arch.parameterCount()));
        return b.toString();
    }

    // ---------------------------------------------------------------------------------------------- files

    @Override
    public void save(Path file) {
        checkOpen();
        ensureInitialized(0);
        ModelFile.write(file, this, normalizer, classNames, trainingInfo);
    }

    /**
     * Writes the model as a Keras 3 {@code .keras} file (config.json, metadata.json, model.weights.h5), which Keras 3's
     * {@code keras.models.load_model} and {@link Models#importKeras} read. Needs the {@code dense4j-interop} module.
     */
    public void exportKeras(Path file) {
        checkOpen();
        ensureInitialized(0);
        io.dense4j.io.ModelFormat.named("keras").exportModel(this, file);
    }

    /**
     * Writes the model (with its preprocessing) as an ONNX model: input "input" [batch, inputs], output "output"
     * [batch, outputs], as the server names them. Needs the {@code dense4j-interop} module.
     */
    public void exportOnnx(Path file) {
        checkOpen();
        ensureInitialized(0);
        io.dense4j.io.ModelFormat.named("onnx").exportModel(this, file);
    }

    /** See {@link Model#load(Path)}. */
    public static Sequential load(Path file) {
        return ModelFile.read(file);
    }

    /** Used by the loader: restores what a file holds around the weights. */
    public void restore(Normalizer n, List<String> names, Map<String, Object> training, long step) {
        this.normalizer = n;
        this.classNames = List.copyOf(names);
        this.trainingInfo = new LinkedHashMap<>(training);
        this.optimizerStep = step;
    }

    // ---------------------------------------------------------------------------------------------- lifecycle

    public boolean isClosed() {
        return closed;
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
        CudaEngine e = cuda;
        cuda = null;
        if (e != null) {
            e.close();
        }
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
