package io.dense4j.optim;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Learning rate as a function of the optimizer step (0-based) and the epoch. Evaluated in Java for each
 * step of a chunk and handed to the native training loop as an array, so schedules cost no JNI calls.
 */
public sealed interface LearningRateSchedule {
    double at(long step, int epoch);

    Map<String, Object> config();

    /** The same rate throughout. */
    record Constant(double lr) implements LearningRateSchedule {
        public double at(long step, int epoch) {
            return lr;
        }

        public Map<String, Object> config() {
            return map("constant", "lr", lr);
        }
    }

    /** lr * gamma^floor(epoch / everyEpochs) (PyTorch StepLR stepped once per epoch). */
    record StepDecay(double lr, int everyEpochs, double gamma) implements LearningRateSchedule {
        public StepDecay {
            if (everyEpochs < 1) {
                throw new IllegalArgumentException("step decay period must be >= 1 epoch, got " + everyEpochs);
            }
        }

        public double at(long step, int epoch) {
            return lr * Math.pow(gamma, epoch / everyEpochs);
        }

        public Map<String, Object> config() {
            Map<String, Object> c = map("step", "lr", lr);
            c.put("every_epochs", everyEpochs);
            c.put("gamma", gamma);
            return c;
        }
    }

    /** lr * rate^(step / decaySteps), floored exponent when staircase (Keras ExponentialDecay). */
    record Exponential(double lr, long decaySteps, double rate, boolean staircase) implements LearningRateSchedule {
        public Exponential {
            if (decaySteps < 1) {
                throw new IllegalArgumentException("decay steps must be >= 1, got " + decaySteps);
            }
        }

        public double at(long step, int epoch) {
            double e = (double) step / decaySteps;
            return lr * Math.pow(rate, staircase ? Math.floor(e) : e);
        }

        public Map<String, Object> config() {
            Map<String, Object> c = map("exponential", "lr", lr);
            c.put("decay_steps", decaySteps);
            c.put("rate", rate);
            c.put("staircase", staircase);
            return c;
        }
    }

    /** Keras CosineDecay: lr * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decaySteps) / decaySteps)) + alpha). */
    record Cosine(double lr, long decaySteps, double alpha) implements LearningRateSchedule {
        public Cosine {
            if (decaySteps < 1) {
                throw new IllegalArgumentException("decay steps must be >= 1, got " + decaySteps);
            }
        }

        public double at(long step, int epoch) {
            double p = Math.min(step, decaySteps) / (double) decaySteps;
            return lr * ((1 - alpha) * 0.5 * (1 + Math.cos(Math.PI * p)) + alpha);
        }

        public Map<String, Object> config() {
            Map<String, Object> c = map("cosine", "lr", lr);
            c.put("decay_steps", decaySteps);
            c.put("alpha", alpha);
            return c;
        }
    }

    static LearningRateSchedule constant(double lr) {
        return new Constant(lr);
    }

    static LearningRateSchedule step(double lr, int everyEpochs, double gamma) {
        return new StepDecay(lr, everyEpochs, gamma);
    }

    static LearningRateSchedule exponential(double lr, long decaySteps, double rate) {
        return new Exponential(lr, decaySteps, rate, false);
    }

    static LearningRateSchedule cosine(double lr, long decaySteps) {
        return new Cosine(lr, decaySteps, 0);
    }

    static LearningRateSchedule fromConfig(Map<String, Object> c) {
        double lr = num(c, "lr");
        return switch (String.valueOf(c.get("type"))) {
            case "constant" -> new Constant(lr);
            case "step" -> new StepDecay(lr, (int) num(c, "every_epochs"), num(c, "gamma"));
            case "exponential" -> new Exponential(lr, (long) num(c, "decay_steps"), num(c, "rate"),
                    Boolean.TRUE.equals(c.get("staircase")));
            case "cosine" -> new Cosine(lr, (long) num(c, "decay_steps"), num(c, "alpha"));
            default -> throw new IllegalArgumentException("unknown learning rate schedule " + c);
        };
    }

    private static double num(Map<String, Object> c, String key) {
        Object v = c.get(key);
        if (!(v instanceof Number n)) {
            throw new IllegalArgumentException("schedule config lacks number '" + key + "': " + c);
        }
        return n.doubleValue();
    }

    private static Map<String, Object> map(String type, String k, Object v) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("type", type);
        c.put(k, v);
        return c;
    }
}
