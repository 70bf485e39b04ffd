package io.dense4j.optim;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.config.Configs;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * An optimizer's settings, typed: {@link Sgd}, {@link Adam}, {@link AdamW}, {@link RmsProp} (the update itself runs
 * natively over the one contiguous parameter buffer, with the formulas of the PyTorch documentation). Immutable:
 * the {@code with*} methods return modified copies. Build them with {@link Optimizers} or their constructors.
 *
 * <p>Config (Keras's field names): {@code {"type": "adam", "learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999,
 * "epsilon": 1e-8, "weight_decay": 0.0, "amsgrad": false, "global_clipnorm": null, "clipvalue": null}};
 * {@code learning_rate} is a number or a {@link LearningRateSchedule} object. Absent fields take the defaults of
 * {@link Optimizers} (PyTorch's), except the learning rate, whose default is Keras's (0.01 for SGD, else 0.001).
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, include = JsonTypeInfo.As.PROPERTY, property = "type")
@JsonSubTypes({@JsonSubTypes.Type(value = Sgd.class, name = "sgd"),
        @JsonSubTypes.Type(value = Adam.class, name = "adam"),
        @JsonSubTypes.Type(value = AdamW.class, name = "adamw"),
        @JsonSubTypes.Type(value = RmsProp.class, name = "rmsprop")})
public sealed interface Optimizer permits Sgd, Adam, AdamW, RmsProp {
    /** Learning rate per step. */
    LearningRateSchedule schedule();

    /** Weight decay (L2 added to the gradient; decoupled for {@link AdamW}). */
    double weightDecay();

    /** Clip gradients by their global L2 norm when &gt; 0 (Keras's {@code global_clipnorm}). */
    double clipNorm();

    /** Clip each gradient element to [-v, v] when &gt; 0 (Keras's {@code clipvalue}). */
    double clipValue();

    Optimizer withSchedule(LearningRateSchedule schedule);

    Optimizer withWeightDecay(double weightDecay);

    Optimizer withClipNorm(double maxNorm);

    Optimizer withClipValue(double value);

    /** The config name of this optimizer ("sgd", "adam", "adamw", "rmsprop"). */
    default String typeName() {
        return Configs.toTree(this).get("type").asText();
    }

    /**
     * A copy with one setting changed, by its config name ({@code "beta_2"}, {@code "momentum"}, {@code "nesterov"},
     * {@code "learning_rate"}...; the PyTorch-style names {@code beta1}, {@code beta2}, {@code eps}, {@code alpha},
     * {@code clip_norm}, {@code clip_value} are accepted too). A flag is set by a non-zero value.
     *
     * @throws IllegalArgumentException no such setting for this optimizer, or an invalid value
     */
    default Optimizer with(String name, double value) {
        String key = canonicalName(name);
        ObjectNode tree = Configs.toTree(this);
        JsonNode old = tree.get(key);
        if (key.equals("type") || !tree.has(key)) {
            throw new IllegalArgumentException(typeName() + " has no setting '" + name + "'; it has "
                    + String.join(", ", settingNames()));
        }
        if (old != null && old.isBoolean()) {
            tree.put(key, value != 0);
        } else {
            tree.put(key, value);
        }
        return Configs.fromTree(tree, Optimizer.class);
    }

    /** A setting's value by its config name (flags are 1 or 0, an unset clip 0, a schedule its rate at step 0). */
    default double get(String name) {
        String key = canonicalName(name);
        JsonNode v = Configs.toTree(this).get(key);
        if (v == null || key.equals("type")) {
            throw new IllegalArgumentException(typeName() + " has no setting '" + name + "'; it has "
                    + String.join(", ", settingNames()));
        }
        if (key.equals("learning_rate")) {
            return schedule().at(0, 0);
        }
        return v.isBoolean() ? (v.asBoolean() ? 1 : 0) : v.isNull() ? 0 : v.asDouble();
    }

    /** The names of this optimizer's settings, in config order. */
    default List<String> settingNames() {
        List<String> names = new ArrayList<>();
        for (Iterator<String> it = Configs.toTree(this).fieldNames(); it.hasNext(); ) {
            String n = it.next();
            if (!n.equals("type")) {
                names.add(n);
            }
        }
        return names;
    }

    /** The optimizer's config as plain JSON values. */
    default Map<String, Object> config() {
        return Configs.toMap(this);
    }

    /** Rebuilds an optimizer from {@link #config()}. */
    static Optimizer fromConfig(Map<String, ?> config) {
        return Configs.fromMap(config, Optimizer.class);
    }

    /** Maps the PyTorch-style names of earlier versions to the config names. */
    private static String canonicalName(String name) {
        String n = name.trim();
        return switch (n) {
            case "beta1" -> "beta_1";
            case "beta2" -> "beta_2";
            case "eps" -> "epsilon";
            case "alpha" -> "rho";
            case "clip_norm", "clipnorm" -> "global_clipnorm";
            case "clip_value" -> "clipvalue";
            case "lr" -> "learning_rate";
            default -> n;
        };
    }
}
