package io.dense4j.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import io.dense4j.optim.Optimizer;
import io.dense4j.train.Loss;
import io.dense4j.train.Metric;
import java.util.List;
import java.util.Objects;

/**
 * What {@code compile} sets, as Keras's {@code compile_config}: {@code {"optimizer": {...}, "loss":
 * "sparse_categorical_crossentropy", "metrics": ["accuracy"]}}.
 */
@JsonPropertyOrder({"optimizer", "loss", "metrics"})
public record CompileConfig(@JsonProperty("optimizer") Optimizer optimizer, @JsonProperty("loss") Loss loss,
                            @JsonProperty("metrics") List<Metric> metrics) {
    public CompileConfig {
        Objects.requireNonNull(optimizer, "compile_config needs an optimizer");
        Objects.requireNonNull(loss, "compile_config needs a loss");
        metrics = metrics == null ? List.of() : List.copyOf(metrics);
    }

    @JsonCreator
    static CompileConfig fromConfig(@JsonProperty(value = "optimizer", required = true) Optimizer optimizer,
                                    @JsonProperty(value = "loss", required = true) Loss loss,
                                    @JsonProperty("metrics") List<Metric> metrics) {
        return new CompileConfig(optimizer, loss, metrics);
    }
}
