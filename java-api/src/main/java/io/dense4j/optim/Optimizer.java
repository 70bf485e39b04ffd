package io.dense4j.optim;

import io.dense4j.nativelib.CpuKernels;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An optimizer's configuration (the update itself runs natively over the one contiguous parameter buffer,
 * with PyTorch's documented formulas). Immutable: the {@code with*} methods return modified copies.
 *
 * @param kind       sgd, adam, adamw or rmsprop
 * @param schedule   learning rate per step
 * @param hp         the five native hyperparameters in the order of dense4j.h for this kind
 * @param clipNorm   clip gradients by global L2 norm when &gt; 0
 * @param clipValue  clip each gradient element to [-v, v] when &gt; 0
 */
public record Optimizer(Kind kind, LearningRateSchedule schedule, float[] hp, float clipNorm, float clipValue) {
    public enum Kind {
        SGD(CpuKernels.OPT_SGD, "momentum", "dampening", "weight_decay", "nesterov"),
        ADAM(CpuKernels.OPT_ADAM, "beta1", "beta2", "eps", "weight_decay", "amsgrad"),
        ADAMW(CpuKernels.OPT_ADAMW, "beta1", "beta2", "eps", "weight_decay", "amsgrad"),
        RMSPROP(CpuKernels.OPT_RMSPROP, "alpha", "eps", "weight_decay", "momentum", "centered");

        final int nativeCode;
        final String[] names;

        Kind(int nativeCode, String... names) {
            this.nativeCode = nativeCode;
            this.names = names;
        }

        public int nativeCode() {
            return nativeCode;
        }
    }

    public Optimizer {
        if (hp.length != CpuKernels.OPT_HP_COUNT) {
            throw new IllegalArgumentException("optimizer needs " + CpuKernels.OPT_HP_COUNT + " hyperparameters");
        }
        hp = hp.clone();
        if (!(clipNorm >= 0) || !(clipValue >= 0)) {
            throw new IllegalArgumentException("clip thresholds must be >= 0");
        }
        if (kind == Kind.SGD && hp[3] != 0 && (hp[0] <= 0 || hp[1] != 0)) {
            throw new IllegalArgumentException("Nesterov momentum requires a momentum > 0 and zero dampening");
        }
        for (float v : hp) {
            if (!Float.isFinite(v) || v < 0) {
                throw new IllegalArgumentException("optimizer hyperparameters must be finite and >= 0: " + describe(kind, hp));
            }
        }
    }

    @Override
    public float[] hp() {
        return hp.clone();
    }

    /** A hyperparameter by its PyTorch name ("beta1", "weight_decay", ...). */
    public float get(String name) {
        for (int i = 0; i < kind.names.length; i++) {
            if (kind.names[i].equals(name)) {
                return hp[i];
            }
        }
        throw new IllegalArgumentException(kind + " has no hyperparameter " + name);
    }

    /** A copy with one hyperparameter changed. */
    public Optimizer with(String name, double value) {
        for (int i = 0; i < kind.names.length; i++) {
            if (kind.names[i].equals(name)) {
                float[] h = hp.clone();
                h[i] = (float) value;
                return new Optimizer(kind, schedule, h, clipNorm, clipValue);
            }
        }
        throw new IllegalArgumentException(kind.name().toLowerCase() + " has no hyperparameter '" + name
                + "'; it has " + String.join(", ", kind.names));
    }

    public Optimizer withWeightDecay(double wd) {
        return with("weight_decay", wd);
    }

    public Optimizer withSchedule(LearningRateSchedule s) {
        return new Optimizer(kind, s, hp, clipNorm, clipValue);
    }

    public Optimizer withClipNorm(double maxNorm) {
        return new Optimizer(kind, schedule, hp, (float) maxNorm, clipValue);
    }

    public Optimizer withClipValue(double value) {
        return new Optimizer(kind, schedule, hp, clipNorm, (float) value);
    }

    public Map<String, Object> config() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("type", kind.name().toLowerCase());
        for (int i = 0; i < kind.names.length; i++) {
            c.put(kind.names[i], (double) hp[i]);
        }
        c.put("learning_rate", schedule.config());
        c.put("clip_norm", (double) clipNorm);
        c.put("clip_value", (double) clipValue);
        return c;
    }

    @SuppressWarnings("unchecked")
    public static Optimizer fromConfig(Map<String, Object> c) {
        Kind kind = Kind.valueOf(String.valueOf(c.get("type")).toUpperCase());
        float[] h = new float[CpuKernels.OPT_HP_COUNT];
        for (int i = 0; i < kind.names.length; i++) {
            Object v = c.get(kind.names[i]);
            if (!(v instanceof Number n)) {
                throw new IllegalArgumentException("optimizer config lacks '" + kind.names[i] + "': " + c);
            }
            h[i] = n.floatValue();
        }
        return new Optimizer(kind, LearningRateSchedule.fromConfig((Map<String, Object>) c.get("learning_rate")), h,
                ((Number) c.getOrDefault("clip_norm", 0)).floatValue(),
                ((Number) c.getOrDefault("clip_value", 0)).floatValue());
    }

    private static String describe(Kind kind, float[] hp) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < kind.names.length; i++) {
            b.append(i == 0 ? "" : ", ").append(kind.names[i]).append('=').append(hp[i]);
        }
        return b.toString();
    }

    @Override
    public String toString() {
        return kind.name().toLowerCase() + "(" + describe(kind, hp) + ", lr=" + schedule + ")";
    }
}
