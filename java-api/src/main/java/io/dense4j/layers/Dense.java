package io.dense4j.layers;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;

/**
 * A fully connected layer: y = activation(x . W + b) with kernel W [inputs, units] (Keras layout) and bias b.
 * Config: {@code {"type": "dense", "units": 128, "activation": "relu", "kernel_initializer": "glorot_uniform",
 * "input_dim": 784}}; {@code input_dim} only where the width is not the previous layer's units (the first layer),
 * {@code activation} defaults to linear and {@code kernel_initializer} to glorot_uniform, as in Keras.
 *
 * @param inputs number of input features, or -1 to take the previous layer's units
 */
@JsonPropertyOrder({"units", "activation", "kernel_initializer", "input_dim"})
public record Dense(@JsonIgnore int inputs, @JsonProperty("units") int units,
                    @JsonProperty("activation") Activation activation,
                    @JsonProperty("kernel_initializer") Initializer kernelInitializer) implements Layer {
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

    @JsonCreator
    static Dense fromConfig(@JsonProperty(value = "units", required = true) int units,
                            @JsonProperty("activation") Activation activation,
                            @JsonProperty("kernel_initializer") Initializer kernelInitializer,
                            @JsonProperty("input_dim") Integer inputDim) {
        return new Dense(inputDim == null ? -1 : inputDim, units, activation == null ? Activation.LINEAR : activation,
                kernelInitializer == null ? Initializer.GLOROT_UNIFORM : kernelInitializer);
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

    /** A copy with this input width (for a first layer whose width comes from the data). */
    public Dense withInputs(int inputs) {
        return new Dense(inputs, units, activation, kernelInitializer);
    }

    /** The input width in configs: absent when it is the previous layer's units. */
    @JsonProperty("input_dim")
    @JsonInclude(JsonInclude.Include.NON_NULL)
    Integer inputDim() {
        return inputs > 0 ? inputs : null;
    }
}
