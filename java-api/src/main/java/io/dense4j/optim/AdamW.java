package io.dense4j.optim;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.annotation.JsonSerialize;

/**
 * AdamW: Adam with decoupled weight decay and optional AMSGrad (torch.optim.AdamW).
 * Config: {@code {"type": "adamw", "learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8,
 * "weight_decay": 0.01, "amsgrad": false, "global_clipnorm": null, "clipvalue": null}}.
 */
@JsonPropertyOrder({"learning_rate", "beta_1", "beta_2", "epsilon", "weight_decay", "amsgrad", "global_clipnorm",
        "clipvalue"})
public record AdamW(@JsonProperty("learning_rate") @JsonSerialize(using = LearningRateJson.class)
                  LearningRateSchedule schedule,
                   @JsonProperty("beta_1") double beta1,
                   @JsonProperty("beta_2") double beta2,
                   @JsonProperty("epsilon") double epsilon,
                   @JsonProperty("weight_decay") double weightDecay,
                   @JsonProperty("amsgrad") boolean amsgrad,
                   @JsonIgnore double clipNorm, @JsonIgnore double clipValue) implements Optimizer {
    public AdamW {
        if (schedule == null) {
            throw new IllegalArgumentException("adamw needs a learning rate");
        }
        Settings.check("beta_1", beta1);
        Settings.check("beta_2", beta2);
        Settings.check("epsilon", epsilon);
        Settings.check("weight_decay", weightDecay);
        Settings.check("global_clipnorm", clipNorm);
        Settings.check("clipvalue", clipValue);
    }

    @JsonCreator
    static AdamW fromConfig(@JsonProperty("learning_rate") LearningRateSchedule schedule,
                           @JsonProperty("beta_1") Double beta1, @JsonProperty("beta_2") Double beta2,
                           @JsonProperty("epsilon") Double epsilon, @JsonProperty("weight_decay") Double weightDecay,
                           @JsonProperty("amsgrad") Boolean amsgrad, @JsonProperty("global_clipnorm") Double clipNorm,
                           @JsonProperty("clipvalue") Double clipValue) {
        return new AdamW(schedule == null ? new LearningRateSchedule.Constant(0.001) : schedule,
                beta1 == null ? 0.9 : beta1, beta2 == null ? 0.999 : beta2, epsilon == null ? 1e-8 : epsilon,
                weightDecay == null ? 0.01 : weightDecay, amsgrad != null && amsgrad,
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
    public AdamW withSchedule(LearningRateSchedule s) {
        return new AdamW(s, beta1, beta2, epsilon, weightDecay, amsgrad, clipNorm, clipValue);
    }

    @Override
    public AdamW withWeightDecay(double wd) {
        return new AdamW(schedule, beta1, beta2, epsilon, wd, amsgrad, clipNorm, clipValue);
    }

    @Override
    public AdamW withClipNorm(double maxNorm) {
        return new AdamW(schedule, beta1, beta2, epsilon, weightDecay, amsgrad, maxNorm, clipValue);
    }

    @Override
    public AdamW withClipValue(double value) {
        return new AdamW(schedule, beta1, beta2, epsilon, weightDecay, amsgrad, clipNorm, value);
    }

    @Override
    public String toString() {
        return Settings.describe(this);
    }
}
