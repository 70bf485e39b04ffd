package io.dense4j.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.JsonNode;
import io.dense4j.config.Configs;
import io.dense4j.train.Fit;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A model and how to train it, as one JSON document: {@code {"model": {...ModelConfig...}, "fit": {"epochs": 5,
 * "batch_size": 32, ...}}} ({@code fit} optional). What {@code dense4j train --config} reads, and the shape a
 * training job, a Spark job or a federated task description starts from. A bare {@link ModelConfig} is accepted
 * too ({@link #fromJson} tells them apart by its {@code class_name}).
 */
@JsonPropertyOrder({"model", "fit"})
public record TrainingConfig(@JsonProperty("model") ModelConfig model,
                             @JsonProperty("fit") @JsonInclude(JsonInclude.Include.NON_NULL) Fit fit) {
    public TrainingConfig {
        Objects.requireNonNull(model, "a training config needs a model");
    }

    @JsonCreator
    static TrainingConfig fromConfig(@JsonProperty(value = "model", required = true) ModelConfig model,
                                     @JsonProperty("fit") Fit fit) {
        return new TrainingConfig(model, fit);
    }

    /** A training config, or a bare model config (then without fit settings). */
    public static TrainingConfig fromJson(String json) {
        JsonNode tree = Configs.parse(json);
        if (tree.has("class_name") || tree.has("class")) {
            return new TrainingConfig(ModelConfig.fromJson(json), null);
        }
        return Configs.fromTree(tree, TrainingConfig.class);
    }

    /** {@link #fromJson(String)} from a file; the message names it. */
    public static TrainingConfig fromJson(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
        try {
            return fromJson(text);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    public String toPrettyJson() {
        return Configs.toPrettyJson(this);
    }
}
