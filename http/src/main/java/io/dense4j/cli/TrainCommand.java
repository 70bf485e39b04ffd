package io.dense4j.cli;

import io.dense4j.Dense4J;
import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import io.dense4j.data.Normalizer;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.layers.Dropout;
import io.dense4j.layers.Layer;
import io.dense4j.model.ModelConfig;
import io.dense4j.model.TrainingConfig;
import io.dense4j.optim.LearningRateSchedule;
import io.dense4j.optim.Optimizer;
import io.dense4j.optim.Optimizers;
import io.dense4j.plots.Plots;
import io.dense4j.tensor.Device;
import io.dense4j.train.Callback;
import io.dense4j.train.EarlyStopping;
import io.dense4j.train.Evaluation;
import io.dense4j.train.Fit;
import io.dense4j.train.History;
import io.dense4j.train.Loss;
import io.dense4j.train.Metrics;
import io.dense4j.train.ModelCheckpoint;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code dense4j train}: the Keras workflow from a shell (build, compile, fit, evaluate, save). The model comes
 * from options ({@code --layers}, {@code --optimizer}...) or from a JSON config ({@code --config}), which can
 * describe any model the API can build.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train a Sequential model of Dense layers on an IDX directory or a CSV file, then save it.")
public final class TrainCommand implements Callable<Integer> {
    /** Options that define the model; a --config defines it instead. */
    private static final List<String> MODEL_OPTIONS = List.of("--layers", "--activations", "--dropout", "--loss",
            "--optimizer", "--lr", "--momentum", "--nesterov", "--weight-decay", "--beta1", "--beta2", "--eps",
            "--alpha", "--centered", "--amsgrad", "--clip-norm", "--clip-value", "--schedule", "--decay-steps",
            "--decay-rate", "--step-epochs", "--normalize");

    @Spec
    CommandSpec spec;

    @Option(names = "--config", description = "JSON model config (ModelConfig, or {\"model\": ..., \"fit\": ...}) "
            + "instead of the model options; a first Dense layer without input_dim takes the data's width")
    Path config;

    @Option(names = "--data", required = true, description = "IDX directory (MNIST format) or CSV file")
    Path data;

    @picocli.CommandLine.Mixin
    CsvArgs csv = new CsvArgs();

    @Option(names = "--layers", split = ",", defaultValue = "128,10",
            description = "units of each Dense layer, comma-separated (default: ${DEFAULT-VALUE}, the last one the data's "
                    + "class count)")
    List<Integer> layers;

    @Option(names = "--activations", split = ",", defaultValue = "relu,softmax",
            description = "activation of each layer: linear, relu, sigmoid, tanh, gelu, softmax (default: ${DEFAULT-VALUE})")
    List<String> activations;

    @Option(names = "--dropout", split = ",", description = "dropout rate after each layer (e.g. 0.2,0)")
    List<Double> dropout;

    @Option(names = "--loss", defaultValue = "sparse_categorical_crossentropy", description = "default: ${DEFAULT-VALUE}")
    String loss;

    @Option(names = "--optimizer", defaultValue = "adam", description = "sgd, adam, adamw, rmsprop (default: ${DEFAULT-VALUE})")
    String optimizer;

    @Option(names = "--lr", defaultValue = "0.001", description = "learning rate (default: ${DEFAULT-VALUE})")
    double lr;

    @Option(names = "--momentum", description = "SGD / RMSprop momentum")
    Double momentum;

    @Option(names = "--nesterov", description = "Nesterov momentum (SGD)")
    boolean nesterov;

    @Option(names = "--weight-decay", description = "L2 penalty (decoupled for adamw)")
    Double weightDecay;

    @Option(names = "--beta1", description = "Adam/AdamW beta1")
    Double beta1;

    @Option(names = "--beta2", description = "Adam/AdamW beta2")
    Double beta2;

    @Option(names = "--eps", description = "Adam/AdamW/RMSprop epsilon")
    Double eps;

    @Option(names = "--alpha", description = "RMSprop smoothing constant")
    Double alpha;

    @Option(names = "--centered", description = "centered RMSprop")
    boolean centered;

    @Option(names = "--amsgrad", description = "AMSGrad variant of Adam/AdamW")
    boolean amsgrad;

    @Option(names = "--clip-norm", description = "clip gradients by global L2 norm")
    Double clipNorm;

    @Option(names = "--clip-value", description = "clip each gradient element to [-v, v]")
    Double clipValue;

    @Option(names = "--schedule", defaultValue = "constant",
            description = "learning rate schedule: constant, step, exponential, cosine (default: ${DEFAULT-VALUE})")
    String schedule;

    @Option(names = "--decay-steps", description = "steps of one exponential decay / the cosine period (default: all steps)")
    Long decaySteps;

    @Option(names = "--decay-rate", defaultValue = "0.5", description = "exponential decay rate / step gamma (default: ${DEFAULT-VALUE})")
    double decayRate;

    @Option(names = "--step-epochs", defaultValue = "1", description = "epochs between step decays (default: ${DEFAULT-VALUE})")
    int stepEpochs;

    @Option(names = "--epochs", defaultValue = "5", description = "default: ${DEFAULT-VALUE}")
    int epochs;

    @Option(names = "--batch-size", defaultValue = "32", description = "default: ${DEFAULT-VALUE}")
    int batchSize;

    @Option(names = "--seed", defaultValue = "42", description = "initialization, shuffling and dropout seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--validation-split", defaultValue = "0", description = "last fraction of the training rows held out")
    double validationSplit;

    @Option(names = "--normalize", defaultValue = "none",
            description = "preprocessing saved with the model: none, standardize, minmax (IDX pixels are already scaled to [0,1])")
    String normalize;

    @Option(names = "--early-stopping", description = "stop after this many epochs without val_loss improvement (restores the best weights)")
    Integer patience;

    @Option(names = "--checkpoint", description = "save after every epoch to this path; {epoch} is replaced")
    String checkpoint;

    @Option(names = "--threads", description = "CPU threads for the kernels (default: 1; 0: one per core; any count is safe: at most one per core is used, serially while other processes hold the cores; results do not depend on it)")
    Integer threads;

    @Option(names = "--device", defaultValue = "cpu",
            description = "cpu or cuda[:N]: where the model trains (default: ${DEFAULT-VALUE}); the saved file is the same")
    String device;

    @Option(names = {"-o", "--output"}, required = true, description = "where to save the model (.d4j)")
    Path output;

    @Option(names = "--plot", description = "write the loss and accuracy curves per epoch to this PNG")
    Path plot;

    @Option(names = "--no-progress", description = "no progress bar (summary lines only)")
    boolean noProgress;

    @Override
    public Integer call() throws Exception {
        // before loading the data: a bad config or a missing GPU is reported at once
        TrainingConfig fromFile = config == null ? null : readConfig();
        Fit settings = fitSettings(fromFile == null ? null : fromFile.fit());
        Device dev = Device.parse(device);
        if (!dev.isCpu()) {
            System.out.println("device: " + dev.description());
        }
        if (threads != null && threads < 0) {
            throw new IllegalArgumentException("--threads must be 1 or more (0: one per core), got " + threads);
        }
        if (dev.isCpu()) {
            // (on a GPU the CPU kernels are never loaded)
            Dense4J.setThreads(threads == null ? 1 : threads);
        }
        long t0 = System.nanoTime();
        try (DataArgs.Loaded loaded = DataArgs.forTraining(data, csv)) {
            Dataset train = loaded.train();
            System.out.printf("data: %d training rows x %d features%s (%.1fs)%n", train.size(), train.numFeatures(),
                    loaded.test() == null ? "" : ", " + loaded.test().size() + " test rows", (System.nanoTime() - t0) / 1e9);
            try (Sequential model = fromFile == null ? fromOptions(train) : fromConfig(fromFile.model(), train)) {
                model.to(dev);
                Loss lossFn = model.loss();
                if (!train.classNames().isEmpty() && train.classNames().size() == model.outputSize()) {
                    model.classNames(train.classNames());
                }
                System.out.print(model.summary());
                List<Callback> callbacks = new ArrayList<>();
                callbacks.add(new ProgressCallback(settings.epochs(), !noProgress));
                if (patience != null) {
                    callbacks.add(EarlyStopping.onValLoss(patience, true));
                }
                if (checkpoint != null) {
                    callbacks.add(ModelCheckpoint.everyEpoch(checkpoint));
                }
                Dataset trainSet = lossFn.sparseLabels() || !train.hasLabels() ? train : train.oneHot();
                try {
                    Fit fit = settings.callbacks(callbacks.toArray(new Callback[0]));
                    History h = model.fit(trainSet, fit);
                    System.out.printf("trained %d epochs in %.2fs%n", h.epochs().size(), h.totalSeconds());
                    if (plot != null) {
                        Plots.trainingCurves(h, plot);
                        System.out.println("training curves: " + plot);
                    }
                    if (loaded.test() != null) {
                        Dataset test = lossFn.sparseLabels() || !loaded.test().hasLabels() ? loaded.test() : loaded.test().oneHot();
                        try {
                            Evaluation e = model.evaluate(test);
                            System.out.print("test: " + e.report());
                        } finally {
                            if (test != loaded.test()) {
                                test.close();
                            }
                        }
                    }
                } finally {
                    if (trainSet != train) {
                        trainSet.close();
                    }
                }
                model.save(output);
                System.out.println("saved " + output);
            }
        }
        return 0;
    }

    /** The model the options describe, compiled. */
    private Sequential fromOptions(Dataset train) {
        if (!spec.commandLine().getParseResult().hasMatchedOption("--layers") && train.hasLabels()
                && train.numClasses() >= 2) {
            // the default's output layer has one unit per class of the data (10 for MNIST; 3 for a 3-class CSV)
            layers = new ArrayList<>(layers);
            layers.set(layers.size() - 1, train.numClasses());
        }
        Sequential model = Sequential.of(buildLayers(train.numFeatures()));
        try {
            int stepsPerEpoch = (int) Math.ceil(train.size() * (1 - validationSplit) / batchSize);
            model.compile(buildOptimizer(stepsPerEpoch), Loss.fromName(loss), Metrics.ACCURACY);
            if (!normalize.equals("none")) {
                model.preprocessing(switch (normalize) {
                    case "standardize" -> Normalizer.standardize();
                    case "minmax" -> Normalizer.minMax();
                    default -> throw new IllegalArgumentException("--normalize must be none, standardize or minmax");
                });
            }
            return model;
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /** The --config file, refused with the options it would contradict. */
    private TrainingConfig readConfig() {
        for (String option : MODEL_OPTIONS) {
            if (spec.commandLine().getParseResult().hasMatchedOption(option)) {
                throw new IllegalArgumentException(option + " cannot be combined with --config: the config defines the model");
            }
        }
        TrainingConfig c = TrainingConfig.fromJson(config);
        if (c.model().compile() == null) {
            throw new IllegalArgumentException(config + ": the config has no compile_config; training needs an "
                    + "optimizer and a loss");
        }
        return c;
    }

    /** The model a config describes (its first layer's width taken from the data when the config leaves it out). */
    private Sequential fromConfig(ModelConfig c, Dataset train) {
        return Sequential.fromConfig(c.withInputs(train.numFeatures()));
    }

    /** The config's fit settings (or Keras's defaults), with the fit options given on the command line on top. */
    private Fit fitSettings(Fit fromFile) {
        var given = spec.commandLine().getParseResult();
        Fit f = fromFile != null ? fromFile : Fit.epochs(epochs).batchSize(batchSize).seed(seed)
                .validationSplit(validationSplit);
        if (fromFile != null) {
            if (given.hasMatchedOption("--epochs")) {
                f = f.withEpochs(epochs);
            }
            if (given.hasMatchedOption("--batch-size")) {
                f = f.batchSize(batchSize);
            }
            if (given.hasMatchedOption("--seed")) {
                f = f.seed(seed);
            }
            if (given.hasMatchedOption("--validation-split")) {
                f = f.validationSplit(validationSplit);
            }
        }
        return f;
    }

    private List<Layer> buildLayers(int inputs) {
        if (layers.size() != activations.size()) {
            throw new IllegalArgumentException("--layers has " + layers.size() + " entries but --activations has "
                    + activations.size());
        }
        if (dropout != null && dropout.size() != layers.size()) {
            throw new IllegalArgumentException("--dropout needs one rate per layer (" + layers.size() + ")");
        }
        List<Layer> ls = new ArrayList<>();
        int width = inputs;
        for (int i = 0; i < layers.size(); i++) {
            ls.add(Dense.of(width, layers.get(i), Activation.fromName(activations.get(i))));
            width = layers.get(i);
            if (dropout != null && dropout.get(i) > 0) {
                ls.add(Dropout.of(dropout.get(i)));
            }
        }
        return ls;
    }

    private Optimizer buildOptimizer(int stepsPerEpoch) {
        Optimizer o = Optimizers.byName(optimizer, lr);
        if (momentum != null) {
            o = o.with("momentum", momentum);
        }
        if (nesterov) {
            o = o.with("nesterov", 1);
        }
        if (weightDecay != null) {
            o = o.withWeightDecay(weightDecay);
        }
        if (beta1 != null) {
            o = o.with("beta1", beta1);
        }
        if (beta2 != null) {
            o = o.with("beta2", beta2);
        }
        if (eps != null) {
            o = o.with("eps", eps);
        }
        if (alpha != null) {
            o = o.with("alpha", alpha);
        }
        if (centered) {
            o = o.with("centered", 1);
        }
        if (amsgrad) {
            o = o.with("amsgrad", 1);
        }
        if (clipNorm != null) {
            o = o.withClipNorm(clipNorm);
        }
        if (clipValue != null) {
            o = o.withClipValue(clipValue);
        }
        long total = (long) stepsPerEpoch * epochs;
        long period = decaySteps != null ? decaySteps : Math.max(1, total);
        return o.withSchedule(switch (schedule) {
            case "constant" -> new LearningRateSchedule.Constant(lr);
            case "step" -> new LearningRateSchedule.StepDecay(lr, stepEpochs, decayRate);
            case "exponential" -> new LearningRateSchedule.Exponential(lr, period, decayRate, false);
            case "cosine" -> new LearningRateSchedule.Cosine(lr, period, 0);
            default -> throw new IllegalArgumentException("--schedule must be constant, step, exponential or cosine");
        });
    }
}
