package io.dense4j.layers;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** Activation of a Dense layer, applied in the same kernel pass as the bias. In configs: its lower-case name. */
public enum Activation {
    LINEAR,
    RELU,
    SIGMOID,
    TANH,
    /** exact GELU, x * Phi(x) (the erf form Keras and PyTorch default to) */
    GELU,
    /** softmax over the units; only meaningful on the last layer */
    SOFTMAX;

    /** The name used in configs and on the command line ("relu", "softmax", ...). */
    @JsonValue
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    @JsonCreator
    public static Activation fromName(String name) {
        for (Activation a : values()) {
            if (a.configName().equalsIgnoreCase(name.trim())) {
                return a;
            }
        }
        throw new IllegalArgumentException("unknown activation '" + name
                + "': expected one of linear, relu, sigmoid, tanh, gelu, softmax");
    }
}
