package io.dense4j.interop.keras;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The layers of a Keras model config in the order data flows through them. A Sequential config's layers are that
 * order ({@code config.layers}, or in Keras 2.0-2.2 {@code config} itself as a bare list); a functional model
 * ("Functional", "Model") is accepted when it is a plain chain: one input, one output, every layer called once on the
 * previous layer's output.
 */
final class KerasTopology {
    /** A layer of the config: its name, class and own config. */
    record KLayer(String name, String className, JsonNode config, JsonNode serialized) {
        String describe() {
            return "layer '" + name + "' (" + className + ")";
        }
    }

    /** @param layers the chain, InputLayer first when the config has one; buildInputShape from the model config */
    record Chain(List<KLayer> layers, JsonNode buildInputShape, boolean functional) {
    }

    private KerasTopology() {}

    static Chain of(JsonNode model) {
        if (model == null || !model.isObject()) {
            throw new IllegalArgumentException("the model config is not a JSON object");
        }
        String cls = model.path("class_name").asText("");
        JsonNode config = model.get("config");
        if (!KerasNames.isBuiltin(model)) {
            throw new IllegalArgumentException("the model is a custom class '" + cls + "' (registered as "
                    + model.path("registered_name").asText(cls) + "): Dense4J imports Keras's Sequential and "
                    + "functional models");
        }
        if (cls.equals("Sequential")) {
            JsonNode list = config != null && config.isArray() ? config : config == null ? null : config.get("layers");
            if (list == null || !list.isArray()) {
                throw new IllegalArgumentException("the Sequential config has no list of layers");
            }
            List<KLayer> layers = new ArrayList<>();
            for (JsonNode l : list) {
                layers.add(layer(l));
            }
            JsonNode bis = config.isObject() ? config.get("build_input_shape") : null;
            if ((bis == null || bis.isNull()) && model.path("build_config").has("input_shape")) {
                bis = model.path("build_config").get("input_shape");
            }
            return new Chain(layers, bis, false);
        }
        if (cls.equals("Functional") || cls.equals("Model")) {
            return functional(config);
        }
        throw new IllegalArgumentException("model class '" + cls + "' is not supported: Dense4J imports Keras's "
                + "Sequential and functional models (a subclassed model has no config to rebuild it from)");
    }

    private static KLayer layer(JsonNode l) {
        String cls = l.path("class_name").asText("");
        JsonNode c = l.path("config");
        String name = c.path("name").asText(l.path("name").asText("?"));
        return new KLayer(name, cls, c, l);
    }

    private static Chain functional(JsonNode config) {
        if (config == null || !config.path("layers").isArray()) {
            throw new IllegalArgumentException("the functional model config has no list of layers");
        }
        Map<String, KLayer> byName = new LinkedHashMap<>();
        Map<String, List<String>> inbound = new HashMap<>();
        for (JsonNode l : config.get("layers")) {
            KLayer k = layer(l);
            String name = l.path("name").asText(k.name());
            k = new KLayer(name, k.className(), k.config(), l);
            byName.put(name, k);
            JsonNode nodes = l.path("inbound_nodes");
            if (nodes.size() > 1) {
                throw new IllegalArgumentException(k.describe() + " is called " + nodes.size() + " times (shared "
                        + "layer): Dense4J imports a plain chain of layers");
            }
            List<String> from = new ArrayList<>();
            nodes.forEach(n -> collectHistory(n, from));
            inbound.put(name, from);
        }
        List<String> inputs = tensorLayers(config.get("input_layers"));
        List<String> outputs = tensorLayers(config.get("output_layers"));
        if (inputs.size() != 1 || outputs.size() != 1) {
            throw new IllegalArgumentException("the functional model has " + inputs.size() + " inputs and "
                    + outputs.size() + " outputs: Dense4J imports one input and one output");
        }
        // walk back from the output: each layer must have exactly one inbound layer
        List<KLayer> chain = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        String at = outputs.get(0);
        while (true) {
            KLayer k = byName.get(at);
            if (k == null || !seen.add(at)) {
                throw new IllegalArgumentException("the functional config refers to an unknown or cyclic layer '" + at + "'");
            }
            chain.add(0, k);
            List<String> from = inbound.getOrDefault(at, List.of());
            if (at.equals(inputs.get(0))) {
                break;
            }
            if (from.size() != 1) {
                throw new IllegalArgumentException(k.describe() + " takes " + from.size() + " inputs "
                        + from + ": a functional model with branches or merges is not supported");
            }
            at = from.get(0);
        }
        for (String name : byName.keySet()) {
            if (!seen.contains(name)) {
                KLayer k = byName.get(name);
                throw new IllegalArgumentException(k.describe() + " is not on the path from the input to the output: "
                        + "a functional model with branches is not supported");
            }
        }
        return new Chain(chain, null, true);
    }

    /**
     * Layer names in an input_layers/output_layers value: [name, node, tensor], a list of those, or (a model called on
     * a dict of inputs, Keras 3) an object of those by key.
     */
    private static List<String> tensorLayers(JsonNode v) {
        List<String> out = new ArrayList<>();
        if (v != null && v.isObject()) {
            v.forEach(e -> out.addAll(tensorLayers(e)));
            return out;
        }
        if (v == null || !v.isArray()) {
            return out;
        }
        if (v.size() >= 1 && v.get(0).isTextual()) {
            out.add(v.get(0).asText());
        } else {
            v.forEach(e -> out.addAll(tensorLayers(e)));
        }
        return out;
    }

    /** The layer names a node reads: Keras 2 ["name", node, tensor, {...}] lists, Keras 3 keras_history entries. */
    private static void collectHistory(JsonNode n, List<String> out) {
        if (n == null) {
            return;
        }
        if (n.isArray()) {
            if (n.size() >= 3 && n.get(0).isTextual() && n.get(1).isNumber()) {
                if (!out.contains(n.get(0).asText())) {
                    out.add(n.get(0).asText());
                }
                return;
            }
            n.forEach(e -> collectHistory(e, out));
        } else if (n.isObject()) {
            JsonNode h = n.get("keras_history");
            if (h != null && h.isArray() && h.size() >= 1 && h.get(0).isTextual()) {
                if (!out.contains(h.get(0).asText())) {
                    out.add(h.get(0).asText());
                }
                return;
            }
            n.forEach(e -> collectHistory(e, out));
        }
    }
}
