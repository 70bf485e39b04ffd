package io.dense4j.layers;

import java.util.Map;

/** A layer of a Sequential model. Every layer serializes to its config, from which it can be rebuilt. */
public sealed interface Layer permits Dense, Dropout {
    /** JSON-friendly description: {"type": ..., ...}. */
    Map<String, Object> config();

    static Layer fromConfig(Map<String, Object> config) {
        Object type = config.get("type");
        if ("dense".equals(type)) {
            return Dense.fromConfig(config);
        }
        if ("dropout".equals(type)) {
            return Dropout.fromConfig(config);
        }
        throw new IllegalArgumentException("unknown layer type " + type + " in " + config);
    }
}
