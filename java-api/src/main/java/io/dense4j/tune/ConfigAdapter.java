package io.dense4j.tune;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import io.dense4j.data.Normalizer;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.layers.Dropout;
import io.dense4j.layers.Initializer;
import io.dense4j.layers.Layer;
import io.dense4j.optim.LearningRateSchedule;
import io.dense4j.optim.Optimizer;
import io.dense4j.optim.Optimizers;
import io.dense4j.train.Callback;
import io.dense4j.train.EarlyStopping;
import io.dense4j.train.Fit;
import io.dense4j.train.Loss;
import io.dense4j.train.Metric;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The one place where a model + training config document (JSON) becomes today's API objects: a compiled
 * {@link Sequential} and a {@link Fit}. Everything else (tuner, jobs) sees only the JSON document, so when the
 * config-first model classes land this class alone is re-pointed to them.
 *
 * <pre>
 * {
 *   "layers": [
 *     {"type": "dense", "units": 128, "activation": "relu"},        "inputs" optional: taken from the data
 *     {"type": "dropout", "rate": 0.2},
 *     {"type": "dense", "units": 10, "activation": "softmax", "kernel_initializer": "glorot_uniform"}
 *   ],
 *   "loss": "sparse_categorical_crossentropy",
 *   "optimizer": {"type": "adam", "learning_rate": 0.001, "beta2": 0.999, "weight_decay": 0,
 *                 "clip_norm": 0, "clip_value": 0,
 *                 "schedule": {"type": "cosine", "decay_steps": 5000, "alpha": 0.0}},
 *   "metrics": ["accuracy", "top_5_accuracy"],
 *   "preprocessing": "standardize",                                  none | standardize | minmax
 *   "training": {"epochs": 5, "batch_size": 32, "seed": 42, "shuffle": true, "validation_split": 0.1,
 *                "early_stopping": {"monitor": "val_loss", "patience": 2, "min_delta": 0, "restore_best_weights": true}}
 * }
 * </pre>
 * Optimizer settings not given keep PyTorch's defaults ({@link Optimizers}); schedules are {@code constant},
 * {@code step} (every_epochs, gamma), {@code exponential} (decay_steps, rate, staircase) and {@code cosine}
 * (decay_steps, alpha), all scaling {@code learning_rate}. Unknown fields anywhere are errors.
 */
public final class ConfigAdapter {
    private static final Set<String> TOP = Set.of("layers", "loss", "optimizer", "metrics", "preprocessing", "training");
    private static final Set<String> TRAINING = Set.of("epochs", "batch_size", "seed", "shuffle", "validation_split",
            "early_stopping");
    /** Generous bounds that still stop a config from asking for absurd allocations before anything is built. */
    static final int MAX_UNITS = 1 << 16;
    static final int MAX_LAYERS = 64;
    static final long MAX_PARAMETERS = 1L << 28;

    private final ObjectNode json;
    private final List<Layer> layers;
    private final Loss loss;
    private final Optimizer optimizer;
    private final List<Metric> metrics;
    private final String preprocessing;
    private final int epochs;
    private final int batchSize;
    private final long seed;
    private final boolean shuffle;
    private final double validationSplit;
    private final JsonNode earlyStopping;

    private ConfigAdapter(ObjectNode json) {
        this.json = json;
        Json.allowOnly(json, "", TOP);
        this.layers = parseLayers(json.get("layers"));
        try {
            this.loss = Loss.fromName(Json.text(json, "loss", "", null));
        } catch (ConfigException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw new ConfigException("/loss", e.getMessage());
        }
        long params = 0; // known before the data: every layer after the first dense one (its inputs may be unknown)
        int prev = -1;
        for (Layer l : layers) {
            if (l instanceof Dense d) {
                int in = prev > 0 ? prev : Math.max(d.inputs(), 1);
                params += (long) in * d.units() + d.units();
                prev = d.units();
            }
        }
        if (params > MAX_PARAMETERS) {
            throw new ConfigException("/layers", "the model would have at least " + params + " parameters; at most "
                    + MAX_PARAMETERS);
        }
        Dense last = lastDense();
        try {
            loss.checkOutputActivation(last.activation());
        } catch (IllegalArgumentException e) {
            throw new ConfigException("/layers", e.getMessage());
        }
        this.optimizer = parseOptimizer(json.get("optimizer"));
        this.metrics = parseMetrics(json.get("metrics"));
        this.preprocessing = Json.text(json, "preprocessing", "", "none");
        if (!Set.of("none", "standardize", "minmax").contains(preprocessing)) {
            throw new ConfigException("/preprocessing", "expected none, standardize or minmax, got '" + preprocessing + "'");
        }
        JsonNode t = json.get("training");
        if (t == null || t.isNull()) {
            throw new ConfigException("/training", "is required (at least {\"epochs\": n})");
        }
        Json.object(t, "/training");
        Json.allowOnly(t, "/training", TRAINING);
        this.epochs = (int) Json.integer(t, "epochs", "/training", null, 1, 100_000);
        this.batchSize = (int) Json.integer(t, "batch_size", "/training", 32L, 1, 1 << 20);
        this.seed = Json.integer(t, "seed", "/training", 0L, Long.MIN_VALUE, Long.MAX_VALUE);
        this.shuffle = Json.bool(t, "shuffle", "/training", true);
        this.validationSplit = Json.number(t, "validation_split", "/training", 0.0);
        if (!(validationSplit >= 0 && validationSplit < 1)) {
            throw new ConfigException("/training/validation_split", "must be in [0, 1), got " + validationSplit);
        }
        this.earlyStopping = t.get("early_stopping") == null || t.get("early_stopping").isNull() ? null
                : t.get("early_stopping");
        if (earlyStopping != null) {
            earlyStoppingCallback(); // validates
            if (validationSplit == 0 && earlyStopping.path("monitor").asText("val_loss").startsWith("val_")) {
                throw new ConfigException("/training/early_stopping", "monitors a validation metric, so "
                        + "/training/validation_split must be > 0");
            }
        }
    }

    /** Validates {@code config} completely (types, ranges, unknown fields, loss vs output activation). */
    public static ConfigAdapter parse(JsonNode config) {
        return new ConfigAdapter(Json.object(config, "").deepCopy());
    }

    public ObjectNode json() {
        return json.deepCopy();
    }

    public int epochs() {
        return epochs;
    }

    public int batchSize() {
        return batchSize;
    }

    public long seed() {
        return seed;
    }

    public Loss loss() {
        return loss;
    }

    /** Accuracy for classification losses, loss otherwise: what "better" means by default. */
    public String defaultMetric() {
        return loss == Loss.MEAN_SQUARED_ERROR ? "loss" : "accuracy";
    }

    /**
     * Checks the config against a data set's shape before anything is built: the first layer's inputs (when given)
     * against the features, the output units against the classes or target width.
     */
    public void checkData(Dataset data) {
        Dense first = (Dense) layers.stream().filter(l -> l instanceof Dense).findFirst().orElseThrow();
        if (first.inputs() > 0 && first.inputs() != data.numFeatures()) {
            throw new ConfigException("/layers/0/inputs", "is " + first.inputs() + " but the data has "
                    + data.numFeatures() + " features");
        }
        int outputs = lastDense().units();
        if (data.hasLabels()) {
            int classes = data.numClasses();
            boolean binary = loss == Loss.BINARY_CROSSENTROPY && outputs == 1 && classes <= 2;
            if (loss == Loss.MEAN_SQUARED_ERROR && outputs != classes && outputs != 1) {
                throw new ConfigException("/layers", "the last layer has " + outputs + " units; the data has " + classes
                        + " classes");
            }
            if (!binary && loss != Loss.MEAN_SQUARED_ERROR && outputs != classes) {
                throw new ConfigException("/layers", "the last layer has " + outputs + " units but the data has "
                        + classes + " classes");
            }
        } else if (data.targets() != null && data.targets().dim(1) != outputs) {
            throw new ConfigException("/layers", "the last layer has " + outputs + " units but the data's targets have "
                    + data.targets().dim(1) + " columns");
        }
        long params = 0;
        int in = data.numFeatures();
        for (Layer l : layers) {
            if (l instanceof Dense d) {
                params += (long) in * d.units() + d.units();
                in = d.units();
            }
        }
        if (params > MAX_PARAMETERS) {
            throw new ConfigException("/layers", "the model would have " + params + " parameters; at most "
                    + MAX_PARAMETERS);
        }
    }

    /**
     * The data in the form the loss takes: one-hot targets for categorical / binary cross-entropy and mean squared
     * error over labelled data (a new data set the caller closes), else {@code data} itself.
     */
    public Dataset prepare(Dataset data) {
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
        List<Layer> ls = new ArrayList<>();
        boolean first = true;
        for (Layer l : layers) {
            if (l instanceof Dense d && first) {
                ls.add(new Dense(d.inputs() > 0 ? d.inputs() : features, d.units(), d.activation(), d.kernelInitializer()));
                first = false;
            } else {
                ls.add(l);
            }
        }
        Optimizer opt = optimizer;
        if (trainRows > 0 && opt.schedule() instanceof LearningRateSchedule.StepDecay s) {
            int b = Math.min(batchSize, trainRows);
            long stepsPerEpoch = (trainRows + b - 1) / b;
            opt = opt.withSchedule(new LearningRateSchedule.Exponential(s.lr(), stepsPerEpoch * s.everyEpochs(),
                    s.gamma(), true));
        }
        Sequential m = Sequential.of(ls);
        try {
            m.compile(opt, loss, metrics.toArray(new Metric[0]));
            if (!classNames.isEmpty() && classNames.size() == lastDense().units()) {
                m.classNames(classNames);
            }
            switch (preprocessing) {
                case "standardize" -> m.preprocessing(Normalizer.standardize());
                case "minmax" -> m.preprocessing(Normalizer.minMax());
                default -> { }
            }
            return m;
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /** The fit settings of the config for {@code epochs} epochs and {@code seed}, with extra callbacks. */
    public Fit fit(int epochs, long seed, Callback... extra) {
        Fit f = Fit.epochs(epochs).batchSize(batchSize).seed(seed).shuffle(shuffle).validationSplit(validationSplit);
        if (earlyStopping != null) {
            f = f.callbacks(earlyStoppingCallback());
        }
        return f.callbacks(extra);
    }

    /** The fit settings exactly as the config gives them. */
    public Fit fit(Callback... extra) {
        return fit(epochs, seed, extra);
    }

    private EarlyStopping earlyStoppingCallback() {
        String p = "/training/early_stopping";
        Json.object(earlyStopping, p);
        Json.allowOnly(earlyStopping, p, Set.of("monitor", "patience", "min_delta", "restore_best_weights"));
        String monitor = Json.text(earlyStopping, "monitor", p, "val_loss");
        if (!Set.of("loss", "accuracy", "val_loss", "val_accuracy").contains(monitor)) {
            throw new ConfigException(p + "/monitor", "expected loss, accuracy, val_loss or val_accuracy, got '"
                    + monitor + "'");
        }
        return new EarlyStopping(monitor, (int) Json.integer(earlyStopping, "patience", p, 0L, 0, 100_000),
                Json.number(earlyStopping, "min_delta", p, 0.0), Json.bool(earlyStopping, "restore_best_weights", p, true));
    }

    private Dense lastDense() {
        for (int i = layers.size() - 1; i >= 0; i--) {
            if (layers.get(i) instanceof Dense d) {
                return d;
            }
        }
        throw new IllegalStateException("no dense layer");
    }

    private static List<Layer> parseLayers(JsonNode n) {
        if (n == null || !n.isArray() || n.isEmpty()) {
            throw new ConfigException("/layers", "expected a non-empty array of layers");
        }
        if (n.size() > MAX_LAYERS) {
            throw new ConfigException("/layers", n.size() + " layers; at most " + MAX_LAYERS);
        }
        List<Layer> out = new ArrayList<>();
        boolean sawDense = false;
        for (int i = 0; i < n.size(); i++) {
            String p = "/layers/" + i;
            JsonNode l = Json.object(n.get(i), p);
            String type = Json.text(l, "type", p, null);
            try {
                switch (type) {
                    case "dense" -> {
                        Json.allowOnly(l, p, Set.of("type", "units", "activation", "inputs", "kernel_initializer"));
                        int units = (int) Json.integer(l, "units", p, null, 1, MAX_UNITS);
                        int inputs = (int) Json.integer(l, "inputs", p, -1L, -1, MAX_UNITS * 16L);
                        if (inputs == 0 || sawDense && inputs != -1) {
                            throw new ConfigException(p + "/inputs", sawDense
                                    ? "only the first dense layer may state its inputs (later ones take the previous units)"
                                    : "must be positive");
                        }
                        out.add(new Dense(inputs, units, Activation.fromName(Json.text(l, "activation", p, "linear")),
                                Initializer.fromName(Json.text(l, "kernel_initializer", p, "glorot_uniform"))));
                        sawDense = true;
                    }
                    case "dropout" -> {
                        Json.allowOnly(l, p, Set.of("type", "rate"));
                        if (!sawDense) {
                            throw new ConfigException(p, "dropout must follow a dense layer");
                        }
                        out.add(Dropout.of(Json.number(l, "rate", p, null)));
                    }
                    default -> throw new ConfigException(p + "/type", "unknown layer type '" + type
                            + "': expected dense or dropout");
                }
            } catch (ConfigException e) {
                throw e;
            } catch (IllegalArgumentException e) {
                throw new ConfigException(p, e.getMessage());
            }
        }
        if (!(out.get(out.size() - 1) instanceof Dense)) {
            throw new ConfigException("/layers", "the last layer must be dense (the output)");
        }
        return List.copyOf(out);
    }

    private static Optimizer parseOptimizer(JsonNode n) {
        String p = "/optimizer";
        if (n == null || n.isNull()) {
            throw new ConfigException(p, "is required, e.g. {\"type\": \"adam\", \"learning_rate\": 0.001}");
        }
        if (n.isTextual()) {
            throw new ConfigException(p, "expected an object such as {\"type\": \"" + n.asText()
                    + "\", \"learning_rate\": 0.001}");
        }
        Json.object(n, p);
        String type = Json.text(n, "type", p, null);
        double lr = Json.number(n, "learning_rate", p, null);
        if (!(lr > 0)) {
            throw new ConfigException(p + "/learning_rate", "must be > 0, got " + lr);
        }
        Optimizer opt;
        try {
            opt = Optimizers.byName(type, lr);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(p + "/type", e.getMessage());
        }
        List<String> names = new ArrayList<>(List.of(switch (opt.kind()) {
            case SGD -> new String[] {"momentum", "dampening", "weight_decay", "nesterov"};
            case ADAM, ADAMW -> new String[] {"beta1", "beta2", "eps", "weight_decay", "amsgrad"};
            case RMSPROP -> new String[] {"alpha", "eps", "weight_decay", "momentum", "centered"};
        }));
        Set<String> allowed = new java.util.HashSet<>(names);
        allowed.addAll(Set.of("type", "learning_rate", "schedule", "clip_norm", "clip_value"));
        Json.allowOnly(n, p, allowed);
        try {
            for (String k : names) { // in the optimizer's own order: flags (nesterov...) after what they need
                JsonNode v = n.get(k);
                if (v == null || v.isNull()) {
                    continue;
                }
                double value;
                if (v.isBoolean()) {
                    if (!Set.of("nesterov", "amsgrad", "centered").contains(k)) {
                        throw new ConfigException(p + "/" + k, "expected a number, got " + v);
                    }
                    value = v.asBoolean() ? 1 : 0;
                } else {
                    value = Json.number(n, k, p, null);
                }
                opt = opt.with(k, value);
            }
            double clipNorm = Json.number(n, "clip_norm", p, 0.0);
            double clipValue = Json.number(n, "clip_value", p, 0.0);
            if (clipNorm > 0) {
                opt = opt.withClipNorm(clipNorm);
            }
            if (clipValue > 0) {
                opt = opt.withClipValue(clipValue);
            }
            opt = opt.withSchedule(parseSchedule(n.get("schedule"), lr));
        } catch (ConfigException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw new ConfigException(p, e.getMessage());
        }
        return opt;
    }

    private static LearningRateSchedule parseSchedule(JsonNode n, double lr) {
        String p = "/optimizer/schedule";
        if (n == null || n.isNull()) {
            return new LearningRateSchedule.Constant(lr);
        }
        Json.object(n, p);
        String type = Json.text(n, "type", p, null);
        try {
            return switch (type) {
                case "constant" -> {
                    Json.allowOnly(n, p, Set.of("type"));
                    yield new LearningRateSchedule.Constant(lr);
                }
                case "step" -> {
                    Json.allowOnly(n, p, Set.of("type", "every_epochs", "gamma"));
                    yield new LearningRateSchedule.StepDecay(lr, (int) Json.integer(n, "every_epochs", p, null, 1, 1_000_000),
                            positive(n, "gamma", p));
                }
                case "exponential" -> {
                    Json.allowOnly(n, p, Set.of("type", "decay_steps", "rate", "staircase"));
                    yield new LearningRateSchedule.Exponential(lr, Json.integer(n, "decay_steps", p, null, 1, Long.MAX_VALUE),
                            positive(n, "rate", p), Json.bool(n, "staircase", p, false));
                }
                case "cosine" -> {
                    Json.allowOnly(n, p, Set.of("type", "decay_steps", "alpha"));
                    double alpha = Json.number(n, "alpha", p, 0.0);
                    if (alpha < 0 || alpha > 1) {
                        throw new ConfigException(p + "/alpha", "must be in [0, 1], got " + alpha);
                    }
                    yield new LearningRateSchedule.Cosine(lr, Json.integer(n, "decay_steps", p, null, 1, Long.MAX_VALUE), alpha);
                }
                default -> throw new ConfigException(p + "/type", "unknown schedule '" + type
                        + "': expected constant, step, exponential or cosine");
            };
        } catch (ConfigException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw new ConfigException(p, e.getMessage());
        }
    }

    private static double positive(JsonNode n, String key, String p) {
        double v = Json.number(n, key, p, null);
        if (!(v > 0)) {
            throw new ConfigException(p + "/" + key, "must be > 0, got " + v);
        }
        return v;
    }

    private static List<Metric> parseMetrics(JsonNode n) {
        List<Metric> ms = new ArrayList<>();
        if (n == null || n.isNull()) {
            ms.add(Metric.accuracy());
            return ms;
        }
        if (!n.isArray()) {
            throw new ConfigException("/metrics", "expected an array such as [\"accuracy\", \"top_5_accuracy\"]");
        }
        for (int i = 0; i < n.size(); i++) {
            String name = n.get(i).asText("");
            if (name.equals("accuracy")) {
                ms.add(Metric.accuracy());
            } else if (name.matches("top_[1-9][0-9]{0,3}_accuracy")) {
                ms.add(Metric.topK(Integer.parseInt(name.substring(4, name.length() - 9))));
            } else {
                throw new ConfigException("/metrics/" + i, "unknown metric " + n.get(i)
                        + ": expected accuracy or top_K_accuracy");
            }
        }
        return ms;
    }
}
