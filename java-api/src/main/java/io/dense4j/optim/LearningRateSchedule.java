package io.dense4j.optim;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import io.dense4j.config.Configs;
import java.util.Map;

/**
 * Learning rate as a function of the optimizer step (0-based) and the epoch. Evaluated in Java for each
 * step of a chunk and handed to the native training loop as an array, so schedules cost no JNI calls.
 *
 * <p>In an optimizer's config a constant rate is a plain number ({@code "learning_rate": 0.001}); a schedule is an
 * object with its {@code "type"}: {@code {"type": "cosine_decay", "initial_learning_rate": 0.01, "decay_steps":
 * 1000, "alpha": 0.0}}, as Keras's schedules.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, include = JsonTypeInfo.As.PROPERTY, property = "type",
        defaultImpl = LearningRateSchedule.Constant.class)
@JsonSubTypes({@JsonSubTypes.Type(value = LearningRateSchedule.Constant.class, name = "constant"),
        @JsonSubTypes.Type(value = LearningRateSchedule.StepDecay.class, name = "step_decay"),
        @JsonSubTypes.Type(value = LearningRateSchedule.Exponential.class, name = "exponential_decay"),
        @JsonSubTypes.Type(value = LearningRateSchedule.Cosine.class, name = "cosine_decay")})
public sealed interface LearningRateSchedule {
    double at(long step, int epoch);

    /** The schedule's config as plain JSON values. */
    default Map<String, Object> config() {
        return Configs.toMap(this);
    }

    /** The same rate throughout. Config: a plain number where a learning rate is expected. */
    record Constant(@JsonProperty("learning_rate") double lr) implements LearningRateSchedule {
        public Constant {
            checkRate(lr);
        }

        /** A plain number in a config. */
        @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
        static Constant of(double lr) {
            return new Constant(lr);
        }

        @JsonCreator(mode = JsonCreator.Mode.PROPERTIES)
        static Constant fromConfig(@JsonProperty(value = "learning_rate", required = true) double lr) {
            return new Constant(lr);
        }

        public double at(long step, int epoch) {
            return lr;
        }
    }

    /**
     * lr * decayRate^floor(epoch / everyEpochs) (PyTorch StepLR stepped once per epoch). Config: {@code
     * {"type": "step_decay", "initial_learning_rate": 0.1, "step_epochs": 10, "decay_rate": 0.5}}.
     */
    record StepDecay(@JsonProperty("initial_learning_rate") double lr, @JsonProperty("step_epochs") int everyEpochs,
                     @JsonProperty("decay_rate") double gamma) implements LearningRateSchedule {
        @JsonCreator
        static StepDecay fromConfig(@JsonProperty(value = "initial_learning_rate", required = true) double lr,
                                    @JsonProperty(value = "step_epochs", required = true) int everyEpochs,
                                    @JsonProperty(value = "decay_rate", required = true) double gamma) {
            return new StepDecay(lr, everyEpochs, gamma);
        }

        public StepDecay {
            checkRate(lr);
            if (everyEpochs < 1) {
                throw new IllegalArgumentException("step decay period must be >= 1 epoch, got " + everyEpochs);
            }
            checkFactor("decay_rate", gamma);
        }

        public double at(long step, int epoch) {
            return lr * Math.pow(gamma, epoch / everyEpochs);
        }
    }

    /**
     * lr * rate^(step / decaySteps), floored exponent when staircase (Keras ExponentialDecay). Config: {@code
     * {"type": "exponential_decay", "initial_learning_rate": 0.1, "decay_steps": 1000, "decay_rate": 0.96,
     * "staircase": false}}.
     */
    record Exponential(@JsonProperty("initial_learning_rate") double lr, @JsonProperty("decay_steps") long decaySteps,
                       @JsonProperty("decay_rate") double rate, @JsonProperty("staircase") boolean staircase)
            implements LearningRateSchedule {
        @JsonCreator
        static Exponential fromConfig(@JsonProperty(value = "initial_learning_rate", required = true) double lr,
                                      @JsonProperty(value = "decay_steps", required = true) long decaySteps,
                                      @JsonProperty(value = "decay_rate", required = true) double rate,
                                      @JsonProperty("staircase") Boolean staircase) {
            return new Exponential(lr, decaySteps, rate, staircase != null && staircase);
        }

        public Exponential {
            checkRate(lr);
            if (decaySteps < 1) {
                throw new IllegalArgumentException("decay steps must be >= 1, got " + decaySteps);
            }
            checkFactor("decay_rate", rate);
        }

        public double at(long step, int epoch) {
            double e = (double) step / decaySteps;
            return lr * Math.pow(rate, staircase ? Math.floor(e) : e);
        }
    }

    /**
     * Keras CosineDecay: lr * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decaySteps) / decaySteps)) + alpha).
     * Config: {@code {"type": "cosine_decay", "initial_learning_rate": 0.1, "decay_steps": 1000, "alpha": 0.0}}.
     */
    record Cosine(@JsonProperty("initial_learning_rate") double lr, @JsonProperty("decay_steps") long decaySteps,
                  @JsonProperty("alpha") double alpha) implements LearningRateSchedule {
        @JsonCreator
        static Cosine fromConfig(@JsonProperty(value = "initial_learning_rate", required = true) double lr,
                                 @JsonProperty(value = "decay_steps", required = true) long decaySteps,
                                 @JsonProperty("alpha") Double alpha) {
            return new Cosine(lr, decaySteps, alpha == null ? 0 : alpha);
        }

        public Cosine {
            checkRate(lr);
            if (decaySteps < 1) {
                throw new IllegalArgumentException("decay steps must be >= 1, got " + decaySteps);
            }
            checkFactor("alpha", alpha);
        }

        public double at(long step, int epoch) {
            double p = Math.min(step, decaySteps) / (double) decaySteps;
            return lr * ((1 - alpha) * 0.5 * (1 + Math.cos(Math.PI * p)) + alpha);
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

    /** Rebuilds a schedule from {@link #config()}. */
    static LearningRateSchedule fromConfig(Map<String, ?> c) {
        return Configs.fromMap(c, LearningRateSchedule.class);
    }

    private static void checkRate(double lr) {
        if (!Double.isFinite(lr) || lr < 0) {
            throw new IllegalArgumentException("learning rate must be finite and >= 0, got " + lr);
        }
        if (!Float.isFinite((float) lr)) { // the kernels take it as a float: 1e39 would reach them as infinity
            throw new IllegalArgumentException("learning rate must be at most " + Float.MAX_VALUE
                    + " (a 32-bit float), got " + lr);
        }
    }

    private static void checkFactor(String name, double v) {
        if (!Double.isFinite(v) || v < 0) {
            throw new IllegalArgumentException(name + " must be finite and >= 0, got " + v);
        }
    }
}
