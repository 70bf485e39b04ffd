package io.dense4j.tune;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.Sequential;
import io.dense4j.config.Configs;
import io.dense4j.data.Dataset;
import io.dense4j.layers.Dense;
import io.dense4j.layers.Layer;
import io.dense4j.model.CompileConfig;
import io.dense4j.model.ModelConfig;
import io.dense4j.model.TrainingConfig;
import io.dense4j.optim.LearningRateSchedule;
import io.dense4j.optim.Optimizer;
import io.dense4j.train.Callback;
import io.dense4j.train.EarlyStopping;
import io.dense4j.train.Fit;
import io.dense4j.train.Loss;
import io.dense4j.train.ModelCheckpoint;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A model-and-training document as the tuner and the job service use it: a {@link TrainingConfig}, the one schema
 * of {@code dense4j train --config}, of {@code Sequential.config()} and of the Java API (see README, "Model config"),
 * read through its own classes:
 *
 * <pre>
 * {
 *   "model": {"class_name": "Sequential", "config_version": 2,
 *             "layers": [{"type": "dense", "units": 128, "activation": "relu"},      input_dim optional: from the data
 *                        {"type": "dropout", "rate": 0.2},
 *                        {"type": "dense", "units": 10, "activation": "softmax"}],
 *             "preprocessing": {"type": "standardize"},
 *             "compile_config": {"optimizer": {"type": "adam", "learning_rate": 0.001},
 *                                "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}},
 *   "fit": {"epochs": 5, "batch_size": 32, "seed": 42, "validation_split": 0.1,
 *           "callbacks": [{"type": "early_stopping", "monitor": "val_loss", "patience": 2}]}
 * }
 * </pre>
 * A search space names JSON Pointers into this document ({@code /model/compile_config/optimizer/learning_rate},
 * {@code /model/layers/0/units}, {@code /fit/batch_size}). On top of the schema's own checks, a document here must
 * compile the model (a {@code compile_config}) and say how to fit it ({@code fit}); it may not write files on its own
 * ({@code model_checkpoint}: jobs and trials checkpoint themselves) nor start mid-way ({@code initial_epoch}); and its
 * size is bounded before anything is built. Errors name the field as a JSON Pointer ({@link ConfigException#path()}).
 */
public final class ConfigAdapter {
    /** Generous bounds that still stop a config from asking for absurd allocations before anything is built. */
    static final int MAX_UNITS = 1 << 16;
    static final int MAX_LAYERS = 64;
    static final long MAX_PARAMETERS = 1L << 28;
    /**
     * Most epochs of one fit: each keeps its metrics (the job's history, its lineage, one event row), so the count
     * sizes memory and the state store; without a bound a tiny data set and epochs of 2^31 filled the heap.
     */
    public static final int MAX_EPOCHS = 100_000;
    /** Most one-hot target values (rows x classes) a categorical loss may expand class labels to: 1 GiB of floats. */
    static final long MAX_ONE_HOT_VALUES = 1L << 28;
    private static final Pattern WHERE = Pattern.compile("^((?:[A-Za-z_][A-Za-z0-9_]*|\\[\\d+\\])(?:\\.[A-Za-z_][A-Za-z0-9_]*|\\[\\d+\\])*): ");

    private final ObjectNode json;
    private final ModelConfig model;
    private final Fit fit;
    private final CompileConfig compile;

    private ConfigAdapter(ObjectNode json) {
        this.json = json;
        Json.allowOnly(json, "", Set.of("model", "fit"));
        if (!json.hasNonNull("model")) {
            throw new ConfigException("/model", "is required: the model config {\"class_name\": \"Sequential\", "
                    + "\"config_version\": 2, \"layers\": [...], \"compile_config\": {...}}");
        }
        if (!json.hasNonNull("fit")) {
            throw new ConfigException("/fit", "is required (at least {\"epochs\": n})");
        }
        Json.object(json.get("model"), "/model");
        Json.object(json.get("fit"), "/fit");
        JsonNode layers = json.get("model").get("layers");
        if (layers != null && layers.isArray() && layers.size() > MAX_LAYERS) {
            throw new ConfigException("/model/layers", layers.size() + " layers; at most " + MAX_LAYERS);
        }
        TrainingConfig tc = read(json, TrainingConfig.class, "");
        this.model = tc.model();
        this.fit = tc.fit();
        this.compile = model.compile();
        if (fit.epochs() > MAX_EPOCHS) {
            throw new ConfigException("/fit/epochs", "at most " + MAX_EPOCHS + ", got " + fit.epochs());
        }
        if (compile == null) {
            throw new ConfigException("/model/compile_config", "is required: {\"optimizer\": {...}, \"loss\": ..., "
                    + "\"metrics\": [\"accuracy\"]}");
        }
        long params = 0; // known before the data: every layer after the first dense one (its inputs may be unknown)
        int prev = -1;
        for (int i = 0; i < model.layers().size(); i++) {
            if (model.layers().get(i) instanceof Dense d) {
                if (d.units() > MAX_UNITS) {
                    throw new ConfigException("/model/layers/" + i + "/units", "at most " + MAX_UNITS + ", got " + d.units());
                }
                int in = prev > 0 ? prev : Math.max(d.inputs(), 1);
                params += (long) in * d.units() + d.units();
                prev = d.units();
            }
        }
        if (params > MAX_PARAMETERS) {
            throw new ConfigException("/model/layers", "the model would have at least " + params + " parameters; at most "
                    + MAX_PARAMETERS);
        }
        try {
            // the architecture, and that the loss suits the output layer (the data gives a missing input width)
            (model.hasInputs() ? model : model.withInputs(1)).validate();
        } catch (IllegalArgumentException e) {
            throw new ConfigException("/model/layers", e.getMessage());
        }
        List<Callback> callbacks = fit.callbacks();
        for (int i = 0; i < callbacks.size(); i++) {
            Callback c = callbacks.get(i);
            if (c instanceof ModelCheckpoint) {
                throw new ConfigException("/fit/callbacks/" + i, "model_checkpoint is not taken here: a job or trial "
                        + "checkpoints on its own, and a config may not write files where it says");
            }
            if (c instanceof EarlyStopping es && es.monitor().startsWith("val_") && fit.validationSplit() == 0) {
                throw new ConfigException("/fit/callbacks/" + i, "early_stopping monitors " + es.monitor()
                        + ", so /fit/validation_split must be > 0");
            }
        }
        if (fit.initialEpoch() != 0) {
            throw new ConfigException("/fit/initial_epoch", "must be 0 here: a job trains from its first epoch (continue "
                    + "a registered model with a train job's \"parent\")");
        }
    }

    /** Validates {@code config} completely (types, ranges, unknown fields, loss vs output activation). */
    public static ConfigAdapter parse(JsonNode config) {
        return new ConfigAdapter(Json.object(config, "").deepCopy());
    }

    /** The document of a model config and fit settings built with the Java API (the inverse of the accessors). */
    public static ObjectNode document(ModelConfig model, Fit fit) {
        return (ObjectNode) Json.MAPPER.valueToTree(Configs.toMap(new TrainingConfig(model, fit)));
    }

    /** Reads a config class through its own Jackson mapping, turning its "a.b[1].c: ..." errors into JSON Pointers. */
    private static <T> T read(JsonNode tree, Class<T> type, String base) {
        try {
            return Configs.fromTree(tree, type);
        } catch (IllegalArgumentException e) {
            String m = String.valueOf(e.getMessage()).replaceFirst("^invalid [a-z ]+ config: ", "");
            Matcher w = WHERE.matcher(m);
            if (!w.find()) {
                throw new ConfigException(base, plain(m));
            }
            String pointer = base + "/" + w.group(1).replaceAll("\\[(\\d+)\\]", ".$1").replace('.', '/');
            throw new ConfigException(pointer.replace("//", "/"), plain(m.substring(w.end())));
        }
    }

    /** Jackson's wording, said without naming our classes. */
    private static String plain(String m) {
        return m.replaceFirst("(?s)^Unrecognized field \"([^\"]*)\" \\(class [^)]*\\), not marked as ignorable.*",
                        "unknown field \"$1\"")
                .replaceFirst("(?s)^Missing required creator property '([^']*)'.*", "is required")
                .replaceFirst("(?s)^Cannot deserialize value of type `([^`]*)` from (\\w+) .*", "expected a $1, got a $2");
    }

    public ObjectNode json() {
        return json.deepCopy();
    }

    /** The model part, as the Java API takes it. */
    public ModelConfig model() {
        return model;
    }

    public int epochs() {
        return fit.epochs();
    }

    public int batchSize() {
        return fit.batchSize();
    }

    public long seed() {
        return fit.seed();
    }

    public Loss loss() {
        return compile.loss();
    }

    /** Accuracy for classification losses, loss otherwise: what "better" means by default. */
    public String defaultMetric() {
        return loss() == Loss.MEAN_SQUARED_ERROR ? "loss" : "accuracy";
    }

    /**
     * Checks the config against a data set's shape before anything is built: the first layer's inputs (when given)
     * against the features, the output units against the classes or target width.
     */
    public void checkData(Dataset data) {
        int firstDense = -1;
        for (int i = 0; i < model.layers().size() && firstDense < 0; i++) {
            if (model.layers().get(i) instanceof Dense) {
                firstDense = i;
            }
        }
        Dense first = (Dense) model.layers().get(firstDense);
        if (first.inputs() > 0 && first.inputs() != data.numFeatures()) {
            throw new ConfigException("/model/layers/" + firstDense + "/input_dim", "is " + first.inputs()
                    + " but the data has " + data.numFeatures() + " features");
        }
        int outputs = lastDense().units();
        Loss loss = loss();
        if (data.hasLabels()) {
            int classes = data.numClasses();
            boolean binary = loss == Loss.BINARY_CROSSENTROPY && outputs == 1 && classes <= 2;
            if (loss == Loss.MEAN_SQUARED_ERROR && outputs != classes && outputs != 1) {
                throw new ConfigException("/model/layers", "the last layer has " + outputs + " units; the data has "
                        + classes + " classes");
            }
            if (!binary && loss != Loss.MEAN_SQUARED_ERROR && outputs != classes) {
                throw new ConfigException("/model/layers", "the last layer has " + outputs + " units but the data has "
                        + classes + " classes");
            }
        } else if (data.targets() != null && data.targets().dim(1) != outputs) {
            throw new ConfigException("/model/layers", "the last layer has " + outputs + " units but the data's targets "
                    + "have " + data.targets().dim(1) + " columns");
        }
        long params = 0;
        int in = data.numFeatures();
        for (Layer l : model.layers()) {
            if (l instanceof Dense d) {
                params += (long) in * d.units() + d.units();
                in = d.units();
            }
        }
        if (params > MAX_PARAMETERS) {
            throw new ConfigException("/model/layers", "the model would have " + params + " parameters; at most "
                    + MAX_PARAMETERS);
        }
    }

    /**
     * The data in the form the loss takes: one-hot targets for categorical / binary cross-entropy and mean squared
     * error over labelled data (a new data set the caller closes), else {@code data} itself.
     */
    public Dataset prepare(Dataset data) {
        Loss loss = loss();
        if (data.hasLabels() && !loss.sparseLabels()) {
            if (loss == Loss.BINARY_CROSSENTROPY && lastDense().units() == 1) {
                int[] lab = data.labels().toIntArray();
                float[][] t = new float[lab.length][1];
                for (int i = 0; i < lab.length; i++) {
                    t[i][0] = lab[i];
                }
                float[][] x = new float[data.size()][];
                for (int r = 0; r < x.length; r++) {
                    x[r] = data.features().row(r);
                }
                return Dataset.ofTargets(x, t);
            }
            long values = (long) data.size() * Math.max(data.numClasses(), lastDense().units());
            if (values > MAX_ONE_HOT_VALUES) {
                throw new ConfigException("/model/compile_config/loss", "one-hot targets for " + data.size() + " rows of "
                        + data.numClasses() + " classes would be " + values + " floats (at most " + MAX_ONE_HOT_VALUES
                        + "): use sparse_categorical_crossentropy, which reads the class labels as they are");
            }
            return data.oneHot();
        }
        return data;
    }

    /** A new compiled model for data of {@code features} columns, with its class names. */
    public Sequential newModel(int features, List<String> classNames) {
        return build(features, classNames, 0);
    }

    /**
     * A new compiled model whose schedule stays right when it is trained in several {@code fit} calls on
     * {@code trainRows} rows: a per-epoch step decay becomes the equivalent per-step staircase decay (fit counts
     * epochs from 0 at every call, the optimizer step carries on).
     */
    public Sequential newResumableModel(int features, List<String> classNames, int trainRows) {
        return build(features, classNames, trainRows);
    }

    private Sequential build(int features, List<String> classNames, int trainRows) {
        ModelConfig mc = model.hasInputs() ? model : model.withInputs(features);
        Optimizer opt = compile.optimizer();
        if (trainRows > 0 && opt.schedule() instanceof LearningRateSchedule.StepDecay s) {
            int b = Math.min(fit.batchSize(), trainRows);
            long stepsPerEpoch = (trainRows + b - 1) / b;
            opt = opt.withSchedule(new LearningRateSchedule.Exponential(s.lr(), stepsPerEpoch * s.everyEpochs(),
                    s.gamma(), true));
            mc = mc.withCompile(new CompileConfig(opt, compile.loss(), compile.metrics()));
        }
        Sequential m;
        try {
            m = Sequential.fromConfig(mc);
        } catch (IllegalArgumentException e) {
            throw new ConfigException("/model", e.getMessage());
        }
        try {
            if (!classNames.isEmpty() && classNames.size() == lastDense().units()) {
                m.classNames(classNames);
            }
            return m;
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /**
     * The fit settings of the config for {@code epochs} epochs and {@code seed}, with extra callbacks. The config's
     * own callbacks (early stopping) are new objects on every call: parallel trials never share their state.
     */
    public Fit fit(int epochs, long seed, Callback... extra) {
        Fit f = read(json.get("fit"), Fit.class, "/fit");
        return f.withEpochs(epochs).seed(seed).callbacks(extra);
    }

    /** The fit settings exactly as the config gives them. */
    public Fit fit(Callback... extra) {
        return fit(fit.epochs(), fit.seed(), extra);
    }

    private Dense lastDense() {
        for (int i = model.layers().size() - 1; i >= 0; i--) {
            if (model.layers().get(i) instanceof Dense d) {
                return d;
            }
        }
        throw new IllegalStateException("no dense layer");
    }
}
