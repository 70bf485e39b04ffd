package io.dense4j.layers;

import io.dense4j.nativelib.CpuKernels;
import java.util.Locale;

/** Activation of a Dense layer, applied in the same kernel pass as the bias. */
public enum Activation {
    LINEAR(CpuKernels.ACT_LINEAR),
    RELU(CpuKernels.ACT_RELU),
    SIGMOID(CpuKernels.ACT_SIGMOID),
    TANH(CpuKernels.ACT_TANH),
    /** exact GELU, x * Phi(x) (the erf form Keras and PyTorch default to) */
    GELU(CpuKernels.ACT_GELU),
    /** softmax over the units; only meaningful on the last layer */
    SOFTMAX(CpuKernels.ACT_SOFTMAX);

    private final int nativeCode;

    Activation(int nativeCode) {
        this.nativeCode = nativeCode;
    }

    /** The enum value of native/include/dense4j.h. */
    public int nativeCode() {
        return nativeCode;
    }

    /** The name used in configs and on the command line ("relu", "softmax", ...). */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

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
