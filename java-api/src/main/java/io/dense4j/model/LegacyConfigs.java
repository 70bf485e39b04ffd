package io.dense4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Iterator;
import java.util.Map;

/**
 * Upgrades the version-1 model config (written by every build before schema version 2: {@code "class":
 * "Sequential"}, PyTorch-style optimizer names, hyperparameters and flags as floats, {@code "lr"} in schedules) to
 * the current schema, field by field, so that files saved before stay readable. Values are carried over exactly
 * (the float-valued doubles of version 1 convert back to the same floats the kernels used).
 */
final class LegacyConfigs {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    /** Version-1 optimizer fields and their current names; the flags become booleans. */
    private static final Map<String, String> OPTIMIZER_FIELDS = Map.ofEntries(
            Map.entry("beta1", "beta_1"), Map.entry("beta2", "beta_2"), Map.entry("eps", "epsilon"),
            Map.entry("alpha", "rho"), Map.entry("weight_decay", "weight_decay"), Map.entry("momentum", "momentum"),
            Map.entry("dampening", "dampening"), Map.entry("nesterov", "nesterov"), Map.entry("amsgrad", "amsgrad"),
            Map.entry("centered", "centered"), Map.entry("clip_norm", "global_clipnorm"),
            Map.entry("clip_value", "clipvalue"));
    private static final java.util.Set<String> FLAGS = java.util.Set.of("nesterov", "amsgrad", "centered");

    private LegacyConfigs() {}

    /** The tree of a current config: {@code tree} itself unless it is a version-1 config. */
    static JsonNode upgrade(JsonNode tree) {
        if (!(tree instanceof ObjectNode v1) || !v1.has("class") || v1.has("class_name")) {
            return tree;
        }
        ObjectNode v2 = NODES.objectNode();
        v2.set("class_name", v1.get("class"));
        v2.put("config_version", ModelConfig.VERSION);
        ArrayNode layers = NODES.arrayNode();
        JsonNode oldLayers = v1.get("layers");
        if (oldLayers != null && oldLayers.isArray()) {
            for (JsonNode l : oldLayers) {
                layers.add(layer(l));
            }
        }
        v2.set("layers", layers);
        if (v1.hasNonNull("loss")) {
            ObjectNode compile = NODES.objectNode();
            compile.set("optimizer", optimizer(v1.get("optimizer")));
            compile.set("loss", v1.get("loss"));
            compile.set("metrics", v1.has("metrics") ? v1.get("metrics") : NODES.arrayNode());
            v2.set("compile_config", compile);
        }
        return v2;
    }

    private static JsonNode layer(JsonNode l) {
        if (!(l instanceof ObjectNode o) || !"dense".equals(o.path("type").asText())) {
            return l; // dropout is unchanged
        }
        ObjectNode d = NODES.objectNode();
        d.put("type", "dense");
        d.set("units", o.get("units"));
        d.set("activation", o.get("activation"));
        if (o.has("kernel_initializer")) {
            d.set("kernel_initializer", o.get("kernel_initializer"));
        }
        JsonNode inputs = o.get("inputs");
        if (inputs != null && inputs.asInt(-1) != -1) {
            d.set("input_dim", inputs);
        }
        return d;
    }

    private static JsonNode optimizer(JsonNode o) {
        if (!(o instanceof ObjectNode old)) {
            return o;
        }
        ObjectNode n = NODES.objectNode();
        n.set("type", old.get("type"));
        if (old.has("learning_rate")) {
            n.set("learning_rate", schedule(old.get("learning_rate")));
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = old.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = OPTIMIZER_FIELDS.get(e.getKey());
            if (name == null) {
                continue; // type and learning_rate are done
            }
            JsonNode v = e.getValue();
            if (FLAGS.contains(name)) {
                n.put(name, v.asDouble() != 0);
            } else if (name.startsWith("global_clipnorm") || name.equals("clipvalue")) {
                if (v.asDouble() > 0) {
                    n.set(name, v);
                }
            } else {
                n.set(name, v);
            }
        }
        return n;
    }

    private static JsonNode schedule(JsonNode s) {
        if (!(s instanceof ObjectNode old)) {
            return s;
        }
        JsonNode lr = old.get("lr");
        String type = old.path("type").asText();
        if (type.equals("constant")) {
            return lr;
        }
        ObjectNode n = NODES.objectNode();
        n.set("initial_learning_rate", lr);
        switch (type) {
            case "step" -> {
                n.put("type", "step_decay");
                n.set("step_epochs", old.get("every_epochs"));
                n.set("decay_rate", old.get("gamma"));
            }
            case "exponential" -> {
                n.put("type", "exponential_decay");
                n.set("decay_steps", old.get("decay_steps"));
                n.set("decay_rate", old.get("rate"));
                n.set("staircase", old.get("staircase"));
            }
            case "cosine" -> {
                n.put("type", "cosine_decay");
                n.set("decay_steps", old.get("decay_steps"));
                n.set("alpha", old.get("alpha"));
            }
            default -> {
                return s; // unknown: binding reports it
            }
        }
        // ObjectNode.set with a null value stores a JSON null: drop them so that binding says what is missing
        n.properties().removeIf(e -> e.getValue() == null || e.getValue().isNull());
        return n;
    }
}
