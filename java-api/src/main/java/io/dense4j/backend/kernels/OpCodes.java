package io.dense4j.backend.kernels;

import io.dense4j.layers.Activation;
import io.dense4j.layers.Architecture;
import io.dense4j.nativelib.CpuKernels;
import io.dense4j.optim.Adam;
import io.dense4j.optim.AdamW;
import io.dense4j.optim.Optimizer;
import io.dense4j.optim.RmsProp;
import io.dense4j.optim.Sgd;
import io.dense4j.train.Loss;

/**
 * The one mapping from the API's activations, losses and optimizers to the kernels' codes (the enums of
 * native/include/dense4j.h, which dense4j_cuda.h repeats with the same numbers): both backends call it, and
 * OpCatalogueTest parses the headers and checks every code, every name and the order of the optimizer
 * hyperparameters against this class and the JavaCPP bindings.
 */
public final class OpCodes {
    /** The loss an inference-only network is built with (its statistics are not used). */
    public static final int INFERENCE_LOSS = CpuKernels.LOSS_MSE;

    private OpCodes() {}

    public static int activation(Activation a) {
        return switch (a) {
            case LINEAR -> CpuKernels.ACT_LINEAR;
            case RELU -> CpuKernels.ACT_RELU;
            case SIGMOID -> CpuKernels.ACT_SIGMOID;
            case TANH -> CpuKernels.ACT_TANH;
            case GELU -> CpuKernels.ACT_GELU;
            case SOFTMAX -> CpuKernels.ACT_SOFTMAX;
        };
    }

    /** Every Dense layer's activation code. */
    public static int[] activations(Architecture arch) {
        int[] codes = new int[arch.layers()];
        for (int l = 0; l < codes.length; l++) {
            codes[l] = activation(arch.activation(l));
        }
        return codes;
    }

    /** The loss code; {@link #INFERENCE_LOSS} for null (a model that was never compiled). */
    public static int loss(Loss loss) {
        if (loss == null) {
            return INFERENCE_LOSS;
        }
        return switch (loss) {
            case SPARSE_CATEGORICAL_CROSSENTROPY -> CpuKernels.LOSS_SPARSE_CCE;
            case CATEGORICAL_CROSSENTROPY -> CpuKernels.LOSS_CCE;
            case BINARY_CROSSENTROPY -> CpuKernels.LOSS_BCE;
            case MEAN_SQUARED_ERROR -> CpuKernels.LOSS_MSE;
        };
    }

    public static int optimizer(Optimizer o) {
        if (o instanceof Sgd) {
            return CpuKernels.OPT_SGD;
        } else if (o instanceof Adam) {
            return CpuKernels.OPT_ADAM;
        } else if (o instanceof AdamW) {
            return CpuKernels.OPT_ADAMW;
        } else if (o instanceof RmsProp) {
            return CpuKernels.OPT_RMSPROP;
        }
        throw new IllegalArgumentException("no kernel for optimizer " + o);
    }

    /** The {@code D4J_OPT_HP_COUNT} hyperparameters in the order dense4j.h gives for the optimizer's kind. */
    public static float[] hyperparameters(Optimizer o) {
        float[] hp = new float[CpuKernels.OPT_HP_COUNT];
        if (o instanceof Sgd s) {
            put(hp, s.momentum(), s.dampening(), s.weightDecay(), flag(s.nesterov()));
        } else if (o instanceof Adam a) {
            put(hp, a.beta1(), a.beta2(), a.epsilon(), a.weightDecay(), flag(a.amsgrad()));
        } else if (o instanceof AdamW a) {
            put(hp, a.beta1(), a.beta2(), a.epsilon(), a.weightDecay(), flag(a.amsgrad()));
        } else if (o instanceof RmsProp r) {
            put(hp, r.rho(), r.epsilon(), r.weightDecay(), r.momentum(), flag(r.centered()));
        } else {
            throw new IllegalArgumentException("no kernel for optimizer " + o);
        }
        return hp;
    }

    private static double flag(boolean b) {
        return b ? 1 : 0;
    }

    private static void put(float[] hp, double... values) {
        for (int i = 0; i < values.length; i++) {
            hp[i] = (float) values[i];
        }
    }
}
