package io.dense4j;

import io.dense4j.backend.Backend;
import io.dense4j.backend.BackendFactory;
import io.dense4j.backend.cpu.CpuBackend;
import io.dense4j.backend.cuda.CudaBackend;
import io.dense4j.data.Dataset;
import io.dense4j.data.Normalizer;
import io.dense4j.io.ModelFile;
import io.dense4j.io.ModelFormat;
import io.dense4j.io.ModelFormatException;
import io.dense4j.layers.Architecture;
import io.dense4j.layers.Dense;
import io.dense4j.layers.Dropout;
import io.dense4j.layers.Layer;
import io.dense4j.model.CompileConfig;
import io.dense4j.model.ModelConfig;
import io.dense4j.model.ModelState;
import io.dense4j.optim.Optimizer;
import io.dense4j.optim.OptimizerState;
import io.dense4j.tensor.Device;
import io.dense4j.tensor.Tensor;
import io.dense4j.train.Evaluation;
import io.dense4j.train.Evaluator;
import io.dense4j.train.Fit;
import io.dense4j.train.History;
import io.dense4j.train.Loss;
import io.dense4j.train.LossStats;
import io.dense4j.train.Metric;
import io.dense4j.train.TrainableModel;
import io.dense4j.train.Trainer;
import io.dense4j.train.TrainingSession;
import io.dense4j.train.TrainingTarget;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A stack of Dense (and Dropout) layers: the model you build, compile, train, evaluate, save and serve.
 *
 * <pre>{@code
 * var model = Sequential.of(Dense.of(784, 128, Activation.RELU), Dense.of(128, 10, Activation.SOFTMAX));
 * model.compile(Optimizers.adam(1e-3), Losses.SPARSE_CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
 * History h = model.fit(train, Fit.epochs(5).batchSize(32).validationSplit(0.1).seed(42));
 * }</pre>
 *
 * <p>{@code Sequential} keeps the model: its layers, compile settings, preprocessing, class names and training
 * record. The numbers live in a {@link Backend} (parameters and optimizer state, training steps, forward passes):
 * the CPU one unless moved with {@link #to(Device)} (CUDA) or {@link #to(BackendFactory)} (any other backend). The
 * fit loop is {@link Trainer}'s and the metrics are {@link Evaluator}'s, the same on every backend, so a model
 * trains with the same shuffles and results up to floating-point rounding wherever it runs. Weights are
 * initialized on first use: by the first {@code fit} with its seed, or with seed 0 by an earlier predict.
 *
 * <p>A model is a {@link ModelState} plus native memory: {@link #state()} and {@link #fromState} convert, and
 * {@link #save} / {@link #load} go through {@link ModelFile}, so a file saved from one backend loads on every one.
 *
 * <p>{@code predict} may be called from many threads at once (on a GPU the calls are serialized per model);
 * {@code fit}, {@code compile}, {@code to} and {@code setParameters} must not run concurrently with anything else
 * on the same model.
 */
public final class Sequential extends Model implements TrainableModel {
    private final List<Layer> layers;
    private final Architecture arch;
    private volatile Backend backend;
    private volatile boolean initialized; // (read by concurrent predicts: they must see the parameters it announces)

    private Optimizer optimizer;
    private Loss loss;
    private List<Metric> metrics = List.of();

    private Normalizer normalizer;
    private List<String> classNames = List.of();
    private Map<String, Object> trainingInfo = new LinkedHashMap<>();
    private volatile boolean closed;

    private final TrainingTarget target = new Target();

    private Sequential(List<Layer> layers) {
        this.layers = List.copyOf(layers);
        this.arch = Architecture.of(this.layers);
        this.backend = new CpuBackend(arch);
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
        loss.checkOutputs(arch.outputActivation(), arch.outputs());
        backend.compile(optimizer, loss);
        this.optimizer = optimizer;
        this.loss = loss;
        this.metrics = List.of(metrics);
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
        float[] p = new float[Math.toIntExact(arch.parameterCount())];
        for (int l = 0; l < arch.layers(); l++) {
            int in = arch.size(l);
            int out = arch.size(l + 1);
            float[] w = new float[in * out];
            arch.initializer(l).fill(w, in, out, rng.split());
            System.arraycopy(w, 0, p, (int) arch.kernelOffset(l), w.length);
        }
        backend.setParameters(p);
        initialized = true;
        return this;
    }

    private void ensureInitialized(long seed) {
        if (!initialized) {
            initialize(seed);
        }
    }

    // ---------------------------------------------------------------------------------------------- backends

    /**
     * Moves the model to {@code target} and returns it. To a CUDA device: fit, evaluate and predict run there
     * with our CUDA kernels (FP32 unless {@link io.dense4j.tensor.CudaSettings} says TF32), the parameters and
     * optimizer state move with the model. To the CPU: the device memory is freed. Moving to the built-in backend
     * the model is on does nothing.
     *
     * @throws UnsupportedOperationException saying why when the CUDA device cannot be used
     */
    @Override
    public Sequential to(Device target) {
        checkOpen();
        Backend current = backend;
        boolean there = target.isCpu() ? current instanceof CpuBackend
                : current instanceof CudaBackend && current.device().equals(target);
        if (there) {
            return this;
        }
        return to(target.isCpu() ? CpuBackend::new : a -> new CudaBackend(target, a));
    }

    /**
     * Moves the model to the backend {@code factory} creates (for backends other than the built-in CPU and CUDA
     * ones): its parameters, compile settings and optimizer state are handed over, the previous backend is closed.
     * When creating or filling the new backend fails, the model stays where it was.
     */
    public Sequential to(BackendFactory factory) {
        checkOpen();
        Backend old = backend;
        Backend next = factory.create(arch);
        try {
            if (initialized) {
                next.setParameters(old.parameters());
            }
            if (optimizer != null) {
                next.compile(optimizer, loss);
            }
            if (optimizer != null || old.optimizerStep() > 0) {
                next.setOptimizerState(old.optimizerState());
            }
        } catch (RuntimeException | Error e) {
            next.close();
            throw e;
        }
        backend = next;
        old.close();
        return this;
    }

    /** The device the model runs on ({@link Device#cpu()} until moved). */
    @Override
    public Device device() {
        return backend.device();
    }

    // ---------------------------------------------------------------------------------------------- training

    /** Trains on {@code data}; see {@link Fit} for the settings. Returns the per-epoch metrics. */
    @Override
    public History fit(Dataset data, Fit fit) {
        checkOpen();
        // labels named differently from this model's classes are renumbered to them (Dataset.relabeledFor)
        try (Relabeled train = new Relabeled(data, classNames);
             Relabeled validation = new Relabeled(fit.validationData(), classNames)) {
            return Trainer.fit(target, train.data, validation.copy == null ? fit : fit.validationData(validation.data));
        }
    }

    /**
     * Loss, accuracy, confusion matrix, per-class precision/recall/F1 and any top-k metric compiled in. Labels that
     * are class names are read by this model's names ({@link Dataset#relabeledFor}): a label it does not have is
     * an {@link IllegalArgumentException}.
     */
    @Override
    public Evaluation evaluate(Dataset data) {
        checkOpen();
        try (Relabeled d = new Relabeled(data, classNames)) {
            return Evaluator.evaluate(target, d.data);
        }
    }

    /** A data set as this model numbers its classes: itself, or a relabeled copy that closing frees. */
    private static final class Relabeled implements AutoCloseable {
        final Dataset data;
        final Dataset copy;

        Relabeled(Dataset original, List<String> classNames) {
            this.copy = original == null ? null : original.relabeledFor(classNames);
            this.data = copy != null ? copy : original;
        }

        @Override
        public void close() {
            if (copy != null) {
                copy.close();
            }
        }
    }

    /**
     * The model as {@link Trainer} and {@link Evaluator} see it: its settings, its backend's training sessions and
     * forward passes, its weight initialization and training record. What a trainer other than {@link #fit} (a
     * distributed one: its driver loop and its workers) drives the model through, e.g. with
     * {@link Trainer#trainOnBatches}.
     */
    public TrainingTarget trainingTarget() {
        checkOpen();
        return target;
    }

    /** The model as the Trainer and the Evaluator see it: its settings and its backend's runs. */
    private final class Target implements TrainingTarget {
        @Override
        public TrainableModel model() {
            return Sequential.this;
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
        public Loss loss() {
            return loss;
        }

        @Override
        public Optimizer optimizer() {
            return optimizer;
        }

        @Override
        public List<Metric> metrics() {
            return metrics;
        }

        @Override
        public Normalizer preprocessing() {
            return normalizer;
        }

        @Override
        public List<String> classNames() {
            return classNames;
        }

        @Override
        public void initializeIfNeeded(long seed) {
            ensureInitialized(seed);
        }

        @Override
        public TrainingSession startTraining(Dataset train, int nTrain, int batch) {
            return backend.startTraining(train, nTrain, batch);
        }

        @Override
        public LossStats forward(Dataset data, Tensor outputs) {
            boolean sparse = loss != null && loss.sparseLabels();
            return backend.forward(data.features(), outputs, sparse ? data.labels() : null,
                    sparse || loss == null ? null : data.targets());
        }

        @Override
        public void recordTraining(Map<String, Object> info) {
            trainingInfo = new LinkedHashMap<>(info);
        }
    }

    // ---------------------------------------------------------------------------------------------- inference

    @Override
    public float[] predict(float[] row) {
        return predict(new float[][] {row})[0];
    }

    @Override
    public float[][] predict(float[][] rows) {
        checkOpen();
        ensureInitialized(0);
        int d = arch.inputs();
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
        float[][] in = rows;
        Normalizer n = normalizer;
        if (n != null) {
            in = new float[rows.length][];
            for (int r = 0; r < rows.length; r++) {
                in[r] = rows[r].clone();
                n.applyRow(in[r]);
            }
        }
        return backend.predict(in);
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
                in = x.dtype() == Tensor.DType.UINT8 ? x.toFloat32() : x.copy(); // normalized in place
                normalizer.apply(in);
            }
            backend.forward(in, out, null, null);
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
            c[r] = p[r].length == 1 ? (p[r][0] >= 0.5f ? 1 : 0) : Evaluator.argmax(p[r], 0, p[r].length);
        }
        return c;
    }

    // ---------------------------------------------------------------------------------------------- weights

    /** A copy of the whole parameter buffer (W0, b0, W1, b1, ...; see {@link Architecture}). */
    @Override
    public float[] parameters() {
        checkOpen();
        ensureInitialized(0);
        return backend.parameters();
    }

    /** Replaces every parameter; the array must have {@link #parameterCount()} finite values. */
    @Override
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
        backend.setParameters(values);
        initialized = true;
    }

    /**
     * Replaces the optimizer state (step and buffers; null buffers mean zeros), e.g. with the average of
     * data-parallel workers' states, so that training continues from it. {@link #state()} reads it.
     *
     * @throws IllegalStateException the model is not compiled
     * @throws IllegalArgumentException buffers of the wrong size or not finite
     */
    public void setOptimizerState(OptimizerState state) {
        checkOpen();
        if (optimizer == null) {
            throw new IllegalStateException("compile the model before setting its optimizer state");
        }
        backend.setOptimizerState(state.checkFor(arch.parameterCount()));
    }

    /**
     * Every weight as Keras's {@code get_weights()} lists them: kernel [inputs, units] (row-major) and bias [units]
     * of each Dense layer in order.
     */
    public List<float[]> weights() {
        float[] p = parameters();
        List<float[]> w = new java.util.ArrayList<>(2 * arch.layers());
        for (int l = 0; l < arch.layers(); l++) {
            w.add(Arrays.copyOfRange(p, (int) arch.kernelOffset(l), (int) (arch.kernelOffset(l) + arch.kernelSize(l))));
            w.add(Arrays.copyOfRange(p, (int) arch.biasOffset(l), (int) arch.biasOffset(l) + arch.size(l + 1)));
        }
        return w;
    }

    /**
     * Replaces every weight from arrays listed as {@link #weights()} lists them (Keras's {@code set_weights}): the
     * way a converter from another framework fills a model built with {@code Sequential.of(Dense.of(...))}.
     *
     * @throws IllegalArgumentException a missing array, a wrong length (naming the layer) or a non-finite value
     */
    public void setWeights(List<float[]> weights) {
        if (weights.size() != 2 * arch.layers()) {
            throw new IllegalArgumentException("expected " + 2 * arch.layers() + " arrays (kernel and bias of each of "
                    + arch.layers() + " Dense layers), got " + weights.size());
        }
        float[] p = new float[Math.toIntExact(arch.parameterCount())];
        for (int l = 0; l < arch.layers(); l++) {
            float[] k = weights.get(2 * l);
            float[] b = weights.get(2 * l + 1);
            if (k == null || k.length != arch.kernelSize(l)) {
                throw new IllegalArgumentException("Dense layer " + l + ": the kernel needs " + arch.size(l) + " x "
                        + arch.size(l + 1) + " = " + arch.kernelSize(l) + " values, got " + (k == null ? 0 : k.length));
            }
            if (b == null || b.length != arch.size(l + 1)) {
                throw new IllegalArgumentException("Dense layer " + l + ": the bias needs " + arch.size(l + 1)
                        + " values, got " + (b == null ? 0 : b.length));
            }
            System.arraycopy(k, 0, p, (int) arch.kernelOffset(l), k.length);
            System.arraycopy(b, 0, p, (int) arch.biasOffset(l), b.length);
        }
        setParameters(p);
    }

    /** Layer l's kernel [inputs, units], row-major. */
    public float[] kernel(int l) {
        checkOpen();
        return Arrays.copyOfRange(backend.parameters(), (int) arch.kernelOffset(l),
                (int) (arch.kernelOffset(l) + arch.kernelSize(l)));
    }

    /** Layer l's bias [units]. */
    public float[] bias(int l) {
        checkOpen();
        return Arrays.copyOfRange(backend.parameters(), (int) arch.biasOffset(l),
                (int) arch.biasOffset(l) + arch.size(l + 1));
    }

    public long parameterCount() {
        return arch.parameterCount();
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
    @Override
    public long optimizerStep() {
        return backend.optimizerStep();
    }

    /** What the last fit recorded (saved with the model as its "training" metadata). */
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

    /** The model's config: layers, preprocessing and compile settings, from which {@link #fromConfig} rebuilds it. */
    public ModelConfig config() {
        return new ModelConfig(layers, normalizer,
                loss == null ? null : new CompileConfig(optimizer, loss, metrics));
    }

    /**
     * Builds an untrained model from a config: its layers, its preprocessing (a copy, fitted or not) and, when the
     * config has a {@code compile_config}, compiled.
     *
     * @throws IllegalArgumentException an invalid config (the message says what is wrong)
     */
    public static Sequential fromConfig(ModelConfig config) {
        config.validate();
        Sequential m = of(config.layers());
        try {
            if (config.preprocessing() != null) {
                m.preprocessing(Normalizer.fromConfig(config.preprocessing().config()));
            }
            CompileConfig c = config.compile();
            if (c != null) {
                m.compile(c.optimizer(), c.loss(), c.metrics().toArray(new Metric[0]));
            }
            return m;
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /** A Keras-like table of the layers and their parameter counts. */
    public String summary() {
        StringBuilder b = new StringBuilder(String.format("%-8s %-10s %-12s %10s%n", "layer", "type", "output", "params"));
        int dense = 0;
        for (int i = 0; i < layers.size(); i++) {
            Layer l = layers.get(i);
            if (l instanceof Dense) {
                int in = arch.size(dense);
                int out = arch.size(dense + 1);
                b.append(String.format("%-8d %-10s %-12s %10d%n", i, "dense/" + arch.activation(dense).configName(),
                        "(n, " + out + ")", (long) in * out + out));
                dense++;
            } else if (l instanceof Dropout d) {
                b.append(String.format("%-8d %-10s %-12s %10d%n", i, "dropout " + d.rate(), "", 0));
            }
        }
        b.append(String.format("total parameters: %d%n", arch.parameterCount()));
        return b.toString();
    }

    // ---------------------------------------------------------------------------------------------- state and files

    /**
     * Everything the model is, as plain values: config, parameters, optimizer state (step and buffers), class names
     * and training record. Initializes the weights (seed 0) if nothing did yet.
     */
    public ModelState state() {
        checkOpen();
        ensureInitialized(0);
        return new ModelState(config(), backend.parameters(), backend.optimizerState(), classNames, trainingInfo);
    }

    /**
     * Builds a model from a state: from its config, with its parameters, optimizer state, class names and training
     * record, on the CPU. The state is validated first.
     *
     * @throws IllegalArgumentException an invalid state (the message says what is wrong)
     */
    public static Sequential fromState(ModelState state) {
        state.validate();
        Sequential m = fromConfig(state.config());
        try {
            m.setParameters(state.parameters());
            OptimizerState opt = state.optimizer();
            if (opt.hasSlots() || opt.step() > 0) {
                m.backend.setOptimizerState(opt);
            }
            m.classNames = state.classNames();
            m.trainingInfo = new LinkedHashMap<>(state.training());
            return m;
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /** Saves config, weights, preprocessing and training metadata to one file, atomically (see {@link ModelFile}). */
    @Override
    public void save(Path file) {
        save(file, false);
    }

    /** {@link #save(Path)}; with {@code includeOptimizerState} the optimizer's buffers too, for an exact resume. */
    @Override
    public void save(Path file, boolean includeOptimizerState) {
        ModelState s = state();
        ModelFile.write(file, includeOptimizerState ? s : s.withOptimizer(s.optimizer().withoutSlots()));
    }

    /**
     * Writes the model as a Keras 3 {@code .keras} file (config.json, metadata.json, model.weights.h5), which Keras 3's
     * {@code keras.models.load_model} and {@link Models#importKeras} read. Needs the {@code dense4j-interop} module.
     */
    public void exportKeras(Path file) {
        ModelFormat.named("keras").exportModel(state(), file);
    }

    /**
     * Writes the model (with its preprocessing) as an ONNX model: input "input" [batch, inputs], output "output"
     * [batch, outputs], as the server names them. Needs the {@code dense4j-interop} module.
     */
    public void exportOnnx(Path file) {
        ModelFormat.named("onnx").exportModel(state(), file);
    }

    /** See {@link Model#load(Path)}. */
    public static Sequential load(Path file) {
        ModelState state = ModelFile.read(file);
        try {
            return fromState(state);
        } catch (RuntimeException e) {
            throw new ModelFormatException(file + ": " + e.getMessage(), e);
        }
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
        backend.close();
    }
}
