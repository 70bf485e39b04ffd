package io.dense4j.layers;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A fully connected layer: y = activation(x . W + b) with kernel W [inputs, units] (Keras layout) and bias b.
 *
 * @param inputs number of input features, or -1 to take the previous layer's units
 */
public record Dense(int inputs, int units, Activation activation, Initializer kernelInitializer) implements Layer {
    public Dense {
        if (units <= 0) {
            throw new IllegalArgumentException("Dense units must be positive, got " + units);
        }
        if (inputs == 0 || inputs < -1) {
            throw new IllegalArgumentException("Dense inputs must be positive (or -1 = inferred), got " + inputs);
        }
        if (activation == null || kernelInitializer == null) {
            throw new IllegalArgumentException("Dense activation and initializer must not be null");
        }
    }

    /** A layer with an explicit input width and Glorot-uniform kernel, as Keras defaults to. */
    public static Dense of(int inputs, int units, Activation activation) {
        return new Dense(inputs, units, activation, Initializer.GLOROT_UNIFORM);
    }

    /** A layer whose input width is the previous layer's units. */
    public static Dense of(int units, Activation activation) {
        return new Dense(-1, units, activation, Initializer.GLOROT_UNIFORM);
    }

    public Dense withInitializer(Initializer init) {
        return new Dense(inputs, units, activation, init);
    }

    @Override
    public Map<String, Object> config() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("type", "dense");
        c.put("inputs", inputs);
        c.put("units", units);
        c.put("activation", activation.configName());
        c.put("kernel_initializer", kernelInitializer.configName());
        return c;
    }

    static Dense fromConfig(Map<String, Object> c) {
        return new Dense(((Number) c.get("inputs")).intValue(), ((Number) c.get("units")).intValue(),
                Activation.fromName((String) c.get("activation")),
                Initializer.fromName((String) c.getOrDefault("kernel_initializer", "glorot_uniform")));
    }
}
