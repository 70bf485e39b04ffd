package io.dense4j.layers;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Inverted dropout of the previous layer's output during training (kept values scaled by 1/(1-rate));
 * the identity at inference. The engine fuses it into the preceding Dense layer's kernels.
 */
public record Dropout(double rate) implements Layer {
    public Dropout {
        if (!(rate >= 0 && rate < 1)) {
            throw new IllegalArgumentException("dropout rate must be in [0, 1), got " + rate);
        }
    }

    public static Dropout of(double rate) {
        return new Dropout(rate);
    }

    @Override
    public Map<String, Object> config() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("type", "dropout");
        c.put("rate", rate);
        return c;
    }

    static Dropout fromConfig(Map<String, Object> c) {
        return new Dropout(((Number) c.get("rate")).doubleValue());
    }
}
