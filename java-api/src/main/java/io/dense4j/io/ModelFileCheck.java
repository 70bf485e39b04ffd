package io.dense4j.io;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Checks a model file's config against the tensors its header declares BEFORE any model is built from
 * the config. The safetensors reader has already checked every tensor's byte range against the file
 * size, so once each Dense layer's units and input width match its tensors' shapes, the parameters the
 * config asks for are bounded by the file's own size: a small file whose config claims huge or
 * countless layers is refused here, with a clear message, instead of allocating gigabytes first.
 */
final class ModelFileCheck {
    /** More layers than any Dense network needs; a config with more is corrupt or hostile. */
    static final int MAX_LAYERS = 1024;

    private ModelFileCheck() {
    }

    static void configMatchesTensors(Path file, Map<String, Object> config, SafeTensors.File st) {
        if (config == null || !(config.get("layers") instanceof List<?> layers)) {
            throw bad(file, "the config has no 'layers' list");
        }
        if (layers.size() > MAX_LAYERS) {
            throw bad(file, "the config declares " + layers.size() + " layers; at most " + MAX_LAYERS + " are accepted");
        }
        long previousUnits = -1;
        int dense = 0;
        for (int i = 0; i < layers.size(); i++) {
            if (!(layers.get(i) instanceof Map<?, ?> layer)) {
                throw bad(file, "layer " + i + " of the config is not an object");
            }
            if (!"dense".equals(layer.get("type"))) {
                continue; // layers without parameters (dropout) allocate nothing
            }
            long units = integer(file, layer.get("units"), "units of layer " + i);
            long inputs = layer.containsKey("inputs") ? integer(file, layer.get("inputs"), "inputs of layer " + i) : -1;
            long in = inputs > 0 ? inputs : previousUnits;
            if (units < 1 || in < 1) {
                throw bad(file, "layer " + i + " needs positive units and inputs, the config has units " + units
                        + ", inputs " + (inputs > 0 ? inputs : "(from the previous layer) " + previousUnits));
            }
            expectShape(file, st, "dense_" + dense + ".kernel", new long[] {in, units}, i);
            expectShape(file, st, "dense_" + dense + ".bias", new long[] {units}, i);
            previousUnits = units;
            dense++;
        }
    }

    private static void expectShape(Path file, SafeTensors.File st, String name, long[] shape, int layer) {
        if (!st.contains(name)) {
            throw bad(file, "tensor " + name + " (layer " + layer + ") is missing");
        }
        long[] actual = st.entry(name).shape();
        if (!Arrays.equals(actual, shape)) {
            throw bad(file, "layer " + layer + " of the config needs tensor " + name + " of shape " + Arrays.toString(shape)
                    + ", the file holds " + Arrays.toString(actual));
        }
    }

    private static long integer(Path file, Object v, String what) {
        if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
            return ((Number) v).longValue();
        }
        if (v instanceof java.math.BigInteger) {
            throw bad(file, what + " is out of range: " + v);
        }
        throw bad(file, what + " must be an integer, got " + v);
    }

    private static ModelFormatException bad(Path file, String message) {
        return new ModelFormatException(file + ": invalid model config: " + message);
    }
}
