package io.dense4j.interop.keras;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Locale;

/** How Keras names things: registered class names, snake_case, and what counts as a Keras built-in. */
final class KerasNames {
    private KerasNames() {}

    /** "Custom>Adam", "keras.optimizers.Adam", "Adam" all give "Adam". */
    static String shortName(String className) {
        String s = className;
        int gt = s.lastIndexOf('>');
        if (gt >= 0) {
            s = s.substring(gt + 1);
        }
        int dot = s.lastIndexOf('.');
        return dot >= 0 ? s.substring(dot + 1) : s;
    }

    /** Keras's naming.to_snake_case: "SparseCategoricalCrossentropy" gives "sparse_categorical_crossentropy". */
    static String snake(String name) {
        String s = name.replaceAll("(.)([A-Z][a-z]+)", "$1_$2");
        s = s.replaceAll("([a-z])([A-Z])", "$1_$2").toLowerCase(Locale.ROOT);
        return s.startsWith("_") ? "private" + s : s;
    }

    /**
     * Whether a serialized object is one of Keras's own (module keras..., tf_keras..., or none as in Keras 2 files) rather
     * than a custom class registered by the user.
     */
    static boolean isBuiltin(JsonNode object) {
        String module = object.path("module").asText("");
        JsonNode reg = object.get("registered_name");
        String cls = object.path("class_name").asText("");
        boolean keras = module.isEmpty() || module.equals("keras") || module.startsWith("keras.")
                || module.startsWith("tf_keras") || module.startsWith("tensorflow");
        boolean registered = reg == null || reg.isNull() || reg.asText().equals(cls);
        return keras && registered && !cls.contains(">");
    }
}
