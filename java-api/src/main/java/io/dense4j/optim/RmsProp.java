package io.dense4j.optim;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.annotation.JsonSerialize;

/**
 * RMSprop with L2 weight decay, momentum and the centered variant (torch.optim.RMSprop; {@code rho} is PyTorch's
 * {@code alpha}). Config: {@code {"type": "rmsprop", "learning_rate": 0.001, "rho": 0.99, "epsilon": 1e-8,
 * "weight_decay": 0.0, "momentum": 0.0, "centered": false, "global_clipnorm": null, "clipvalue": null}}.
 */
@JsonPropertyOrder({"learning_rate", "rho", "epsilon", "weight_decay", "momentum", "centered", "global_clipnorm",
        "clipvalue"})
public record RmsProp(@JsonProperty("learning_rate") @JsonSerialize(using = LearningRateJson.class)
                  LearningRateSchedule schedule,
                      @JsonProperty("rho") double rho,
                      @JsonProperty("epsilon") double epsilon,
                      @JsonProperty("weight_decay") double weightDecay,
                      @JsonProperty("momentum") double momentum,
                      @JsonProperty("centered") boolean centered,
                      @JsonIgnore double clipNorm, @JsonIgnore double clipValue) implements Optimizer {
    public RmsProp {
        if (schedule == null) {
            throw new IllegalArgumentException("rmsprop needs a learning rate");
        }
        Settings.check("rho", rho);
        Settings.check("epsilon", epsilon);
        Settings.check("weight_decay", weightDecay);
        Settings.check("momentum", momentum);
        Settings.check("global_clipnorm", clipNorm);
        Settings.check("clipvalue", clipValue);
    }

    @JsonCreator
    static RmsProp fromConfig(@JsonProperty("learning_rate") LearningRateSchedule schedule,
                              @JsonProperty("rho") Double rho, @JsonProperty("epsilon") Double epsilon,
                              @JsonProperty("weight_decay") Double weightDecay, @JsonProperty("momentum") Double momentum,
                              @JsonProperty("centered") Boolean centered, @JsonProperty("global_clipnorm") Double clipNorm,
                              @JsonProperty("clipvalue") Double clipValue) {
        return new RmsProp(schedule == null ? new LearningRateSchedule.Constant(0.001) : schedule,
                rho == null ? 0.99 : rho, epsilon == null ? 1e-8 : epsilon, weightDecay == null ? 0 : weightDecay,
                momentum == null ? 0 : momentum, centered != null && centered,
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
    public RmsProp withSchedule(LearningRateSchedule s) {
        return new RmsProp(s, rho, epsilon, weightDecay, momentum, centered, clipNorm, clipValue);
    }

    @Override
    public RmsProp withWeightDecay(double wd) {
        return new RmsProp(schedule, rho, epsilon, wd, momentum, centered, clipNorm, clipValue);
    }

    @Override
    public RmsProp withClipNorm(double maxNorm) {
        return new RmsProp(schedule, rho, epsilon, weightDecay, momentum, centered, maxNorm, clipValue);
    }

    @Override
    public RmsProp withClipValue(double value) {
        return new RmsProp(schedule, rho, epsilon, weightDecay, momentum, centered, clipNorm, value);
    }

    @Override
    public String toString() {
        return Settings.describe(this);
    }
}
