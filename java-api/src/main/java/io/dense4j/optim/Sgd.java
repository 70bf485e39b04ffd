package io.dense4j.optim;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.annotation.JsonSerialize;

/**
 * Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay (torch.optim.SGD).
 * Config: {@code {"type": "sgd", "learning_rate": 0.01, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.0,
 * "nesterov": true, "global_clipnorm": null, "clipvalue": null}}.
 */
@JsonPropertyOrder({"learning_rate", "momentum", "dampening", "weight_decay", "nesterov", "global_clipnorm", "clipvalue"})
public record Sgd(@JsonProperty("learning_rate") @JsonSerialize(using = LearningRateJson.class)
                  LearningRateSchedule schedule,
                  @JsonProperty("momentum") double momentum,
                  @JsonProperty("dampening") double dampening,
                  @JsonProperty("weight_decay") double weightDecay,
                  @JsonProperty("nesterov") boolean nesterov,
                  @JsonIgnore double clipNorm, @JsonIgnore double clipValue) implements Optimizer {
    public Sgd {
        if (schedule == null) {
            throw new IllegalArgumentException("sgd needs a learning rate");
        }
        Settings.check("momentum", momentum);
        Settings.check("dampening", dampening);
        Settings.check("weight_decay", weightDecay);
        Settings.check("global_clipnorm", clipNorm);
        Settings.check("clipvalue", clipValue);
        if (nesterov && ((float) momentum <= 0 || (float) dampening != 0)) {
            throw new IllegalArgumentException("Nesterov momentum requires a momentum > 0 and zero dampening");
        }
    }

    @JsonCreator
    static Sgd fromConfig(@JsonProperty("learning_rate") LearningRateSchedule schedule,
                          @JsonProperty("momentum") Double momentum, @JsonProperty("dampening") Double dampening,
                          @JsonProperty("weight_decay") Double weightDecay, @JsonProperty("nesterov") Boolean nesterov,
                          @JsonProperty("global_clipnorm") Double clipNorm, @JsonProperty("clipvalue") Double clipValue) {
        return new Sgd(schedule == null ? new LearningRateSchedule.Constant(0.01) : schedule,
                momentum == null ? 0 : momentum, dampening == null ? 0 : dampening,
                weightDecay == null ? 0 : weightDecay, nesterov != null && nesterov,
                Settings.clip(clipNorm, "global_clipnorm"), Settings.clip(clipValue, "clipvalue"));
    }

    @JsonProperty("global_clipnorm")
    Double clipNormOrNull() {
        return Settings.clipOrNull(clipNorm);
    }

    @JsonProperty("clipvalue")
    Double clipValueOrNull() {
        return Settings.clipOrNull(clipValue);
    }

    @Override
    public Sgd withSchedule(LearningRateSchedule s) {
        return new Sgd(s, momentum, dampening, weightDecay, nesterov, clipNorm, clipValue);
    }

    @Override
    public Sgd withWeightDecay(double wd) {
        return new Sgd(schedule, momentum, dampening, wd, nesterov, clipNorm, clipValue);
    }

    @Override
    public Sgd withClipNorm(double maxNorm) {
        return new Sgd(schedule, momentum, dampening, weightDecay, nesterov, maxNorm, clipValue);
    }

    @Override
    public Sgd withClipValue(double value) {
        return new Sgd(schedule, momentum, dampening, weightDecay, nesterov, clipNorm, value);
    }

    @Override
    public String toString() {
        return Settings.describe(this);
    }
}
