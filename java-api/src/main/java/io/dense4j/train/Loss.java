package io.dense4j.train;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import io.dense4j.layers.Activation;
import java.util.Locale;

/**
 * Training losses. The cross-entropies are fused with the output activation (softmax or sigmoid) in one
 * numerically stable kernel; a LINEAR output layer means "from logits". In configs: the Keras name
 * ({@code "sparse_categorical_crossentropy"}, ...).
 */
public enum Loss {
    /** integer class labels; softmax (or linear = logits) output; per-sample loss sums over classes */
    SPARSE_CATEGORICAL_CROSSENTROPY,
    /** one-hot or probability targets; softmax (or linear) output */
    CATEGORICAL_CROSSENTROPY,
    /** 0/1 targets per output; sigmoid (or linear) output; per-sample loss averages over outputs */
    BINARY_CROSSENTROPY,
    /** any targets, any output activation; per-sample loss averages over outputs */
    MEAN_SQUARED_ERROR;

    /** Accuracy counts one decision per output for binary cross-entropy, one per row otherwise. */
    public double accuracyDivisor(int outputs) {
        return this == BINARY_CROSSENTROPY ? outputs : 1;
    }

    /** Whether the loss has an accuracy (every loss but mean squared error). */
    public boolean hasAccuracy() {
        return this != MEAN_SQUARED_ERROR;
    }

    /** Whether the targets are integer class labels rather than a float matrix. */
    public boolean sparseLabels() {
        return this == SPARSE_CATEGORICAL_CROSSENTROPY;
    }

    /** Checks that the output layer's activation suits this loss; the message says what would. */
    public void checkOutputActivation(Activation act) {
        boolean ok = switch (this) {
            case SPARSE_CATEGORICAL_CROSSENTROPY, CATEGORICAL_CROSSENTROPY ->
                    act == Activation.SOFTMAX || act == Activation.LINEAR;
            case BINARY_CROSSENTROPY -> act == Activation.SIGMOID || act == Activation.LINEAR;
            case MEAN_SQUARED_ERROR -> true;
        };
        if (!ok) {
            throw new IllegalArgumentException(configName() + " needs a "
                    + (this == BINARY_CROSSENTROPY ? "sigmoid" : "softmax")
                    + " output layer (or linear, meaning logits); the last layer's activation is "
                    + act.configName());
        }
    }

    /**
     * Checks that this loss suits a model's output layer: its activation (see {@link #checkOutputActivation}) and
     * at least 2 units for the categorical cross-entropies.
     */
    public void checkOutputs(Activation outputActivation, int outputs) {
        checkOutputActivation(outputActivation);
        if ((this == SPARSE_CATEGORICAL_CROSSENTROPY || this == CATEGORICAL_CROSSENTROPY) && outputs < 2) {
            throw new IllegalArgumentException(configName() + " needs at least 2 output units, the model has " + outputs);
        }
    }

    @JsonValue
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    @JsonCreator
    public static Loss fromName(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT).replace('-', '_');
        for (Loss l : values()) {
            if (l.configName().equals(n)) {
                return l;
            }
        }
        return switch (n) {
            case "mse" -> MEAN_SQUARED_ERROR;
            case "bce" -> BINARY_CROSSENTROPY;
            case "cce" -> CATEGORICAL_CROSSENTROPY;
            case "sparse_cce" -> SPARSE_CATEGORICAL_CROSSENTROPY;
            default -> throw new IllegalArgumentException("unknown loss '" + name
                    + "': expected sparse_categorical_crossentropy, categorical_crossentropy, "
                    + "binary_crossentropy or mean_squared_error");
        };
    }
}
