package io.dense4j.interop.keras;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.interop.NetworkSpec.Training;
import io.dense4j.layers.Activation;
import io.dense4j.optim.Adam;
import io.dense4j.optim.AdamW;
import io.dense4j.optim.LearningRateSchedule;
import io.dense4j.optim.Optimizer;
import io.dense4j.optim.Optimizers;
import io.dense4j.optim.RmsProp;
import io.dense4j.optim.Sgd;
import io.dense4j.train.Loss;
import io.dense4j.train.Metric;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Keras's compile settings (the {@code training_config} of an .h5 file, the {@code compile_config} of a .keras file)
 * to Dense4J's optimizer, loss and metrics, and back. What Dense4J cannot reproduce is reported as a note, never
 * silently changed; when the optimizer or loss has no Dense4J equivalent the model is imported uncompiled.
 *
 * <p>Known, documented differences: Keras's Adam adds epsilon to sqrt(v) before bias correction (Dense4J, as
 * PyTorch, after), Keras's RMSprop adds it under the square root; both change updates only where v is ~epsilon^2.
 */
final class KerasTraining {
    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private KerasTraining() {}

    /** The Dense4J training setup for a Keras training/compile config, or null (with a note saying why). */
    static Training fromKeras(JsonNode tc, Activation output, int outputs, List<String> notes) {
        if (tc == null || tc.isNull() || !tc.isObject()) {
            notes.add("the file has no training configuration: the model is imported uncompiled");
            return null;
        }
        JsonNode opt = tc.has("optimizer_config") ? tc.get("optimizer_config") : tc.get("optimizer");
        Optimizer optimizer = optimizer(opt, notes);
        Loss loss = loss(tc.get("loss"), output, outputs, notes);
        if (optimizer == null || loss == null) {
            notes.add("the model is imported uncompiled: compile it before fit");
            return null;
        }
        return new Training(optimizer, loss, metrics(tc.get("metrics"), notes));
    }

    // ------------------------------------------------------------------------------------------------ optimizer

    private static Optimizer optimizer(JsonNode node, List<String> notes) {
        if (node == null || node.isNull()) {
            notes.add("no optimizer in the training configuration");
            return null;
        }
        String cls = node.isTextual() ? node.asText() : KerasNames.shortName(node.path("class_name").asText(""));
        JsonNode c = node.isTextual() ? F.objectNode() : node.path("config");
        String kind = cls.toLowerCase(Locale.ROOT);
        if (kind.startsWith("lossscaleoptimizer")) {
            // mixed precision: Keras scales the loss so float16 gradients do not underflow; the update is the inner
            // optimizer's (LossScaleOptimizer's get_config: inner_optimizer, dynamic, initial_scale, ...)
            JsonNode inner = c.hasNonNull("inner_optimizer") ? c.get("inner_optimizer") : c.get("optimizer");
            String innerCls = inner == null || inner.isNull() ? "" : inner.isTextual() ? inner.asText()
                    : KerasNames.shortName(inner.path("class_name").asText(""));
            if (innerCls.isEmpty() || innerCls.toLowerCase(Locale.ROOT).startsWith("lossscaleoptimizer")) {
                notes.add("optimizer " + cls + " names no inner optimizer Dense4J can read");
                return null;
            }
            notes.add("the optimizer's loss scaling (" + cls + ", for float16 training) is left out: Dense4J trains "
                    + "in float32 with its inner optimizer, " + innerCls);
            return optimizer(inner, notes);
        }
        double lr = learningRateValue(c, kind, notes);
        if (Double.isNaN(lr)) {
            return null;
        }
        Optimizer o;
        double wd = num(c, "weight_decay", 0);
        switch (kind) {
            case "adam", "adamw" -> {
                if (kind.equals("adamw") && !c.hasNonNull("weight_decay")) {
                    wd = 0.004; // Keras's AdamW default
                }
                o = (wd > 0 ? Optimizers.adamw(lr, wd) : Optimizers.adam(lr))
                        .with("beta1", num(c, "beta_1", 0.9)).with("beta2", num(c, "beta_2", 0.999))
                        .with("eps", num(c, "epsilon", 1e-7)).with("amsgrad", c.path("amsgrad").asBoolean(false) ? 1 : 0);
                notes.add(kind + "'s epsilon " + num(c, "epsilon", 1e-7) + " is added after the bias correction (as "
                        + "PyTorch does), Keras adds it before: continued training differs only where v is near epsilon^2");
            }
            case "sgd" -> {
                double m = num(c, "momentum", 0);
                boolean nesterov = c.path("nesterov").asBoolean(false) && m > 0;
                o = Optimizers.sgd(lr, m, nesterov);
                if (wd > 0) {
                    o = o.withWeightDecay(wd);
                    notes.add("SGD weight_decay " + wd + ": Keras decays the weights directly, Dense4J adds it to the "
                            + "gradient (the same update without momentum)");
                }
            }
            case "rmsprop" -> {
                o = Optimizers.rmsprop(lr).with("alpha", num(c, "rho", 0.9)).with("eps", num(c, "epsilon", 1e-7))
                        .with("momentum", num(c, "momentum", 0)).with("centered", c.path("centered").asBoolean(false) ? 1 : 0);
                notes.add("RMSprop's epsilon is added outside the square root (as PyTorch does), Keras adds it under it: "
                        + "continued training differs only where v is near epsilon^2");
                if (wd > 0) {
                    o = o.withWeightDecay(wd);
                    notes.add("RMSprop weight_decay " + wd + ": Keras decays the weights directly, Dense4J adds it to "
                            + "the gradient");
                }
            }
            default -> {
                notes.add("optimizer " + cls + " has no Dense4J equivalent (Dense4J has SGD, Adam, AdamW, RMSprop)");
                return null;
            }
        }
        o = o.withSchedule(schedule(c, lr, notes));
        if (num(c, "global_clipnorm", 0) > 0) {
            o = o.withClipNorm(num(c, "global_clipnorm", 0));
        }
        if (num(c, "clipnorm", 0) > 0) {
            o = o.withClipNorm(num(c, "clipnorm", 0));
            notes.add("clipnorm " + num(c, "clipnorm", 0) + " clips each variable's gradient in Keras; Dense4J clips "
                    + "the global norm of all gradients to it");
        }
        if (num(c, "clipvalue", 0) > 0) {
            o = o.withClipValue(num(c, "clipvalue", 0));
        }
        if (num(c, "decay", 0) > 0) {
            notes.add("the legacy optimizer's decay " + num(c, "decay", 0) + " (1/(1 + decay * step)) has no Dense4J "
                    + "schedule: the learning rate stays constant");
        }
        if (c.path("use_ema").asBoolean(false)) {
            notes.add("use_ema (an exponential moving average of the weights) is not supported and is ignored");
        }
        return o;
    }

    /** The initial learning rate (a number, or a schedule's initial rate); NaN with a note when there is none. */
    private static double learningRateValue(JsonNode c, String kind, List<String> notes) {
        JsonNode lr = c.has("learning_rate") ? c.get("learning_rate") : c.get("lr");
        if (lr == null || lr.isNull()) {
            return switch (kind) { // Keras's defaults
                case "sgd", "rmsprop", "adam", "adamw" -> kind.equals("sgd") ? 0.01 : 0.001;
                default -> 0.001;
            };
        }
        if (lr.isNumber()) {
            return lr.asDouble();
        }
        JsonNode init = lr.path("config").path("initial_learning_rate");
        if (init.isNumber()) {
            return init.asDouble();
        }
        notes.add("learning rate " + lr + " is neither a number nor a schedule with an initial_learning_rate");
        return Double.NaN;
    }

    private static LearningRateSchedule schedule(JsonNode c, double lr, List<String> notes) {
        JsonNode s = c.has("learning_rate") ? c.get("learning_rate") : c.get("lr");
        if (s == null || !s.isObject()) {
            return new LearningRateSchedule.Constant(lr);
        }
        String cls = KerasNames.shortName(s.path("class_name").asText(""));
        JsonNode sc = s.path("config");
        if (cls.equals("ExponentialDecay") && sc.path("decay_steps").asLong(0) >= 1) {
            return new LearningRateSchedule.Exponential(lr, sc.path("decay_steps").asLong(), num(sc, "decay_rate", 1),
                    sc.path("staircase").asBoolean(false));
        }
        if (cls.equals("CosineDecay") && sc.path("decay_steps").asLong(0) >= 1 && num(sc, "warmup_steps", 0) == 0) {
            return new LearningRateSchedule.Cosine(lr, sc.path("decay_steps").asLong(), num(sc, "alpha", 0));
        }
        notes.add("learning rate schedule " + cls + " has no Dense4J equivalent: constant " + lr + " instead");
        return new LearningRateSchedule.Constant(lr);
    }

    // ------------------------------------------------------------------------------------------------ loss

    private static Loss loss(JsonNode node, Activation output, int outputs, List<String> notes) {
        if (node == null || node.isNull()) {
            notes.add("no loss in the training configuration");
            return null;
        }
        String name;
        boolean fromLogits = false;
        if (node.isTextual()) {
            name = node.asText();
        } else if (node.isObject()) {
            String cls = KerasNames.shortName(node.path("class_name").asText(""));
            JsonNode c = node.path("config");
            name = cls.equals("function") || cls.equals("LossFunctionWrapper") && c.path("fn").isTextual()
                    ? (c.isTextual() ? c.asText() : c.path("fn").asText()) : cls;
            fromLogits = c.path("from_logits").asBoolean(false);
            if (num(c, "label_smoothing", 0) != 0) {
                notes.add("loss " + cls + " uses label smoothing, which Dense4J does not have");
                return null;
            }
        } else {
            notes.add("loss " + node + " (one loss per output) is not supported: Dense4J models have one output");
            return null;
        }
        Loss loss = switch (KerasNames.snake(name)) {
            case "sparse_categorical_crossentropy" -> Loss.SPARSE_CATEGORICAL_CROSSENTROPY;
            case "categorical_crossentropy" -> Loss.CATEGORICAL_CROSSENTROPY;
            case "binary_crossentropy" -> Loss.BINARY_CROSSENTROPY;
            case "mean_squared_error", "mse" -> Loss.MEAN_SQUARED_ERROR;
            default -> null;
        };
        if (loss == null) {
            notes.add("loss '" + name + "' has no Dense4J equivalent (Dense4J has sparse_categorical_crossentropy, "
                    + "categorical_crossentropy, binary_crossentropy, mean_squared_error)");
            return null;
        }
        if (loss != Loss.MEAN_SQUARED_ERROR) {
            // Dense4J fuses the loss with the output activation: a linear output means logits
            Activation wanted = fromLogits ? Activation.LINEAR
                    : loss == Loss.BINARY_CROSSENTROPY ? Activation.SIGMOID : Activation.SOFTMAX;
            if (output != wanted) {
                notes.add("loss " + name + (fromLogits ? " from logits" : " on probabilities") + " does not match the "
                        + output.configName() + " output layer the way Dense4J computes it (it needs a "
                        + wanted.configName() + " output)");
                return null;
            }
            if (loss != Loss.BINARY_CROSSENTROPY && outputs < 2) {
                notes.add("loss " + name + " needs at least 2 outputs");
                return null;
            }
        }
        return loss;
    }

    // ------------------------------------------------------------------------------------------------ metrics

    private static List<Metric> metrics(JsonNode node, List<String> notes) {
        Set<Metric> out = new LinkedHashSet<>();
        List<JsonNode> flat = new ArrayList<>();
        flatten(node, flat);
        for (JsonNode m : flat) {
            String name;
            int k = 5;
            if (m.isTextual()) {
                name = m.asText();
            } else {
                String cls = KerasNames.shortName(m.path("class_name").asText(""));
                JsonNode c = m.path("config");
                name = cls.equals("MeanMetricWrapper") || cls.equals("function")
                        ? (c.isTextual() ? c.asText() : c.path("fn").asText(c.path("name").asText())) : cls;
                k = c.path("k").asInt(5);
            }
            switch (KerasNames.snake(name)) {
                case "accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy" ->
                        out.add(Metric.accuracy());
                case "sparse_top_k_categorical_accuracy", "top_k_categorical_accuracy" -> out.add(Metric.topK(k));
                default -> notes.add("metric '" + name + "' is not one Dense4J computes and is left out");
            }
        }
        return List.copyOf(out);
    }

    private static void flatten(JsonNode node, List<JsonNode> out) {
        if (node == null || node.isNull()) {
            return;
        }
        if (node.isArray()) {
            node.forEach(n -> flatten(n, out));
        } else if (node.isObject() && !node.has("class_name")) {
            node.forEach(n -> flatten(n, out)); // {output_name: metrics}
        } else {
            out.add(node);
        }
    }

    private static double num(JsonNode c, String key, double dflt) {
        JsonNode v = c.get(key);
        return v != null && v.isNumber() ? v.asDouble() : dflt;
    }

    // ------------------------------------------------------------------------------------------------ export

    /** Keras 3's compile_config for Dense4J's training setup (Keras's own names and defaults where they differ). */
    static ObjectNode toKeras(Training t, Activation output) {
        ObjectNode cc = F.objectNode();
        cc.set("optimizer", optimizerToKeras(t.optimizer()));
        Loss loss = t.loss();
        String lossName = loss == Loss.MEAN_SQUARED_ERROR ? "mean_squared_error" : loss.configName();
        // a linear output layer means Dense4J trains on logits: Keras must be told so
        cc.set("loss", output == Activation.LINEAR && loss != Loss.MEAN_SQUARED_ERROR ? lossFromLogits(loss)
                : F.textNode(lossName));
        cc.putNull("loss_weights");
        var ms = cc.putArray("metrics");
        for (Metric m : t.metrics()) {
            if (m.k() == 1) {
                ms.add("accuracy");
            } else {
                ObjectNode o = ms.addObject();
                o.put("module", "keras.metrics");
                o.put("class_name", loss == Loss.SPARSE_CATEGORICAL_CROSSENTROPY ? "SparseTopKCategoricalAccuracy"
                        : "TopKCategoricalAccuracy");
                ObjectNode c = o.putObject("config");
                c.put("name", m.name());
                c.put("dtype", "float32");
                c.put("k", m.k());
                o.putNull("registered_name");
            }
        }
        cc.putNull("weighted_metrics");
        cc.put("run_eagerly", false);
        cc.put("steps_per_execution", 1);
        cc.put("jit_compile", false);
        return cc;
    }

    /** A loss object with from_logits (used when the output layer is linear: Dense4J then works on logits). */
    static ObjectNode lossFromLogits(Loss loss) {
        String cls = switch (loss) {
            case SPARSE_CATEGORICAL_CROSSENTROPY -> "SparseCategoricalCrossentropy";
            case CATEGORICAL_CROSSENTROPY -> "CategoricalCrossentropy";
            case BINARY_CROSSENTROPY -> "BinaryCrossentropy";
            case MEAN_SQUARED_ERROR -> throw new IllegalArgumentException("mse has no logits");
        };
        ObjectNode o = F.objectNode();
        o.put("module", "keras.losses");
        o.put("class_name", cls);
        ObjectNode c = o.putObject("config");
        c.put("name", loss.configName());
        c.put("reduction", "sum_over_batch_size");
        c.put("from_logits", true);
        if (loss == Loss.BINARY_CROSSENTROPY) {
            c.put("label_smoothing", 0.0);
            c.put("axis", -1);
        } else if (loss == Loss.CATEGORICAL_CROSSENTROPY) {
            c.put("label_smoothing", 0.0);
            c.put("axis", -1);
        } else {
            c.putNull("ignore_class");
        }
        o.putNull("registered_name");
        return o;
    }

    private static ObjectNode optimizerToKeras(Optimizer o) {
        ObjectNode n = F.objectNode();
        n.put("module", "keras.optimizers");
        ObjectNode c = F.objectNode();
        String cls;
        if (o instanceof Sgd) {
            cls = "SGD";
            c.put("name", "SGD");
        } else if (o instanceof Adam) {
            cls = "Adam";
            c.put("name", "adam");
        } else if (o instanceof AdamW) {
            cls = "AdamW";
            c.put("name", "adamw");
        } else {
            cls = "RMSprop";
            c.put("name", "rmsprop");
        }
        c.set("learning_rate", scheduleToKeras(o.schedule()));
        double wd = o.weightDecay();
        if (wd > 0 && !(o instanceof Adam)) {
            c.put("weight_decay", wd);
        } else {
            c.putNull("weight_decay");
        }
        c.putNull("clipnorm");
        if (o.clipNorm() > 0) {
            c.put("global_clipnorm", o.clipNorm());
        } else {
            c.putNull("global_clipnorm");
        }
        if (o.clipValue() > 0) {
            c.put("clipvalue", o.clipValue());
        } else {
            c.putNull("clipvalue");
        }
        c.put("use_ema", false);
        c.put("ema_momentum", 0.99);
        c.putNull("ema_overwrite_frequency");
        if (o instanceof Sgd sgd) {
            c.put("momentum", sgd.momentum());
            c.put("nesterov", sgd.nesterov());
        } else if (o instanceof Adam a) {
            c.put("beta_1", a.beta1());
            c.put("beta_2", a.beta2());
            c.put("epsilon", a.epsilon());
            c.put("amsgrad", a.amsgrad());
        } else if (o instanceof AdamW a) {
            c.put("beta_1", a.beta1());
            c.put("beta_2", a.beta2());
            c.put("epsilon", a.epsilon());
            c.put("amsgrad", a.amsgrad());
        } else if (o instanceof RmsProp r) {
            c.put("rho", r.rho());
            c.put("momentum", r.momentum());
            c.put("epsilon", r.epsilon());
            c.put("centered", r.centered());
        }
        n.put("class_name", cls);
        n.set("config", c);
        n.putNull("registered_name");
        return n;
    }

    private static JsonNode scheduleToKeras(LearningRateSchedule s) {
        if (s instanceof LearningRateSchedule.Exponential e) {
            return schedule("ExponentialDecay", e.lr(), e.decaySteps(), c -> {
                c.put("decay_rate", e.rate());
                c.put("staircase", e.staircase());
            });
        }
        if (s instanceof LearningRateSchedule.Cosine cs) {
            return schedule("CosineDecay", cs.lr(), cs.decaySteps(), c -> {
                c.put("alpha", cs.alpha());
                c.put("name", "CosineDecay");
                c.putNull("warmup_target");
                c.put("warmup_steps", 0);
            });
        }
        // constant, and the per-epoch step decay Keras has no class for: its initial rate
        return F.numberNode(s.at(0, 0));
    }

    private static ObjectNode schedule(String cls, double lr, long steps, java.util.function.Consumer<ObjectNode> rest) {
        ObjectNode o = F.objectNode();
        o.put("module", "keras.optimizers.schedules");
        o.put("class_name", cls);
        ObjectNode c = o.putObject("config");
        c.put("initial_learning_rate", lr);
        c.put("decay_steps", steps);
        rest.accept(c);
        o.putNull("registered_name");
        return o;
    }
}
