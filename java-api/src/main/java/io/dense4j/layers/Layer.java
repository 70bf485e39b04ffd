package io.dense4j.layers;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import io.dense4j.config.Configs;
import java.util.Map;

/**
 * A layer of a Sequential model. Every layer serializes to its config, from which it can be rebuilt:
 * {@code {"type": "dense", "units": 128, "activation": "relu", "kernel_initializer": "glorot_uniform"}},
 * {@code {"type": "dropout", "rate": 0.2}}.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, include = JsonTypeInfo.As.PROPERTY, property = "type")
@JsonSubTypes({@JsonSubTypes.Type(value = Dense.class, name = "dense"),
        @JsonSubTypes.Type(value = Dropout.class, name = "dropout")})
public sealed interface Layer permits Dense, Dropout {
    /** The layer's config as plain JSON values: {"type": ..., ...}. */
    default Map<String, Object> config() {
        return Configs.toMap(this);
    }

    /** Rebuilds a layer from {@link #config()} (or its JSON). */
    static Layer fromConfig(Map<String, ?> config) {
        return Configs.fromMap(config, Layer.class);
    }
}
