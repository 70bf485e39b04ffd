package io.dense4j.layers;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Inverted dropout of the previous layer's output during training (kept values scaled by 1/(1-rate));
 * the identity at inference. The engine fuses it into the preceding Dense layer's kernels.
 * Config: {@code {"type": "dropout", "rate": 0.2}}.
 */
public record Dropout(@JsonProperty("rate") double rate) implements Layer {
    @JsonCreator
    public Dropout {
        if (!(rate >= 0 && rate < 1)) {
            throw new IllegalArgumentException("dropout rate must be in [0, 1), got " + rate);
        }
    }

    public static Dropout of(double rate) {
        return new Dropout(rate);
    }
}
