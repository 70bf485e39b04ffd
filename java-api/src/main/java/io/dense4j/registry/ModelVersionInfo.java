package io.dense4j.registry;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What the registry knows about one version of a model: the content of its {@code metadata.json}.
 *
 * @param model       model name
 * @param version     version number, unique within the model and never reused
 * @param createdAt   ISO-8601 instant of registration
 * @param source      where the model came from, as the caller described it (a path, a training run)
 * @param actor       who registered it
 * @param file        file name of the model inside the version folder
 * @param sha256      hex SHA-256 of the model file
 * @param sizeBytes   size of the model file
 * @param inputSize   number of input features, -1 if not validated
 * @param outputSize  number of outputs, -1 if not validated
 * @param classNames  class names of the outputs (may be empty)
 * @param metrics     training or evaluation metrics given by the caller
 * @param importedFrom the Keras file this version was converted from at registration, or null
 */
public record ModelVersionInfo(
        @JsonProperty("model") String model,
        @JsonProperty("version") int version,
        @JsonProperty("created_at") String createdAt,
        @JsonProperty("source") String source,
        @JsonProperty("actor") String actor,
        @JsonProperty("file") String file,
        @JsonProperty("sha256") String sha256,
        @JsonProperty("size_bytes") long sizeBytes,
        @JsonProperty("input_size") int inputSize,
        @JsonProperty("output_size") int outputSize,
        @JsonProperty("class_names") List<String> classNames,
        @JsonProperty("metrics") Map<String, Double> metrics,
        @JsonProperty("imported_from") @JsonInclude(JsonInclude.Include.NON_NULL) ImportedFrom importedFrom) {

    public ModelVersionInfo {
        classNames = classNames == null ? List.of() : List.copyOf(classNames);
        metrics = metrics == null ? Map.of() : Map.copyOf(metrics);
    }

    /** A version registered from a Dense4J model file (nothing was converted). */
    public ModelVersionInfo(String model, int version, String createdAt, String source, String actor, String file,
                            String sha256, long sizeBytes, int inputSize, int outputSize, List<String> classNames,
                            Map<String, Double> metrics) {
        this(model, version, createdAt, source, actor, file, sha256, sizeBytes, inputSize, outputSize, classNames,
                metrics, null);
    }

    /** The model file, resolved against the registry root. */
    @JsonIgnore
    public Path modelFile(Path registryRoot) {
        return registryRoot.resolve(model).resolve(Integer.toString(version)).resolve(file);
    }
}
