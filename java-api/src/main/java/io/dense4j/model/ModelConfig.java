package io.dense4j.model;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.JsonNode;
import io.dense4j.config.Configs;
import io.dense4j.data.Normalizer;
import io.dense4j.layers.Architecture;
import io.dense4j.layers.Dense;
import io.dense4j.layers.Layer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A whole model as JSON (schema version {@value #VERSION}): what {@code Sequential.config()} returns,
 * {@code Sequential.fromConfig} builds, {@code dense4j train --config} reads and every {@code .d4j} file stores.
 *
 * <pre>{@code
 * {
 *   "class_name": "Sequential",
 *   "config_version": 2,
 *   "layers": [
 *     {"type": "dense", "units": 128, "activation": "relu", "kernel_initializer": "glorot_uniform", "input_dim": 784},
 *     {"type": "dropout", "rate": 0.2},
 *     {"type": "dense", "units": 10, "activation": "softmax", "kernel_initializer": "glorot_uniform"}
 *   ],
 *   "preprocessing": {"type": "standardize"},
 *   "compile_config": {
 *     "optimizer": {"type": "adam", "learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-8,
 *                   "weight_decay": 0.0, "amsgrad": false, "global_clipnorm": null, "clipvalue": null},
 *     "loss": "sparse_categorical_crossentropy",
 *     "metrics": ["accuracy"]
 *   }
 * }
 * }</pre>
 *
 * {@code preprocessing} (absent: none) and {@code compile_config} (absent: not compiled) are optional; the first
 * Dense layer's {@code input_dim} may be left out where the data gives it ({@link #withInputs}). Configs written
 * before schema version 2 (no {@code config_version}; files saved before issue 10) are read by upgrading them
 * ({@link #fromJson}); a newer version is refused with a message saying so.
 */
@JsonPropertyOrder({"class_name", "config_version", "layers", "preprocessing", "compile_config"})
public record ModelConfig(@JsonProperty("layers") List<Layer> layers,
                          @JsonProperty("preprocessing") @JsonInclude(JsonInclude.Include.NON_NULL) Normalizer preprocessing,
                          @JsonProperty("compile_config") @JsonInclude(JsonInclude.Include.NON_NULL) CompileConfig compile) {
    /** The schema version this build writes and the newest it reads. */
    public static final int VERSION = 2;
    public static final String CLASS_NAME = "Sequential";

    public ModelConfig {
        if (layers == null || layers.isEmpty()) {
            throw new IllegalArgumentException("a model config needs at least one layer");
        }
        layers = List.copyOf(layers);
    }

    @JsonCreator
    static ModelConfig fromConfig(@JsonProperty(value = "class_name", required = true) String className,
                                  @JsonProperty(value = "config_version", required = true) int version,
                                  @JsonProperty(value = "layers", required = true) List<Layer> layers,
                                  @JsonProperty("preprocessing") Normalizer preprocessing,
                                  @JsonProperty("compile_config") CompileConfig compile) {
        if (!CLASS_NAME.equals(className)) {
            throw new IllegalArgumentException("class_name is '" + className + "', only " + CLASS_NAME
                    + " models exist");
        }
        if (version != VERSION) {
            throw new IllegalArgumentException("config_version " + version + " is not supported: this build reads "
                    + "version " + VERSION + " (and older files without a config_version)");
        }
        return new ModelConfig(layers, preprocessing, compile);
    }

    @JsonProperty("class_name")
    String className() {
        return CLASS_NAME;
    }

    @JsonProperty("config_version")
    int configVersion() {
        return VERSION;
    }

    /** The resolved architecture (checks widths, dropout placement and softmax placement). */
    public Architecture architecture() {
        return Architecture.of(layers);
    }

    /**
     * Checks everything a model built from this config would check: the architecture, and that the loss suits the
     * output layer.
     *
     * @throws IllegalArgumentException naming the problem
     */
    public ModelConfig validate() {
        Architecture arch = architecture();
        if (compile != null) {
            compile.loss().checkOutputs(arch.outputActivation(), arch.outputs());
        }
        return this;
    }

    /** Whether the first Dense layer states its input width. */
    public boolean hasInputs() {
        for (Layer l : layers) {
            if (l instanceof Dense d) {
                return d.inputs() > 0;
            }
        }
        return false;
    }

    /** A copy whose first Dense layer takes {@code inputs} features (for configs that leave it to the data). */
    public ModelConfig withInputs(int inputs) {
        List<Layer> ls = new ArrayList<>(layers);
        for (int i = 0; i < ls.size(); i++) {
            if (ls.get(i) instanceof Dense d) {
                if (d.inputs() > 0 && d.inputs() != inputs) {
                    throw new IllegalArgumentException("the config's first Dense layer takes " + d.inputs()
                            + " inputs, the data has " + inputs + " features");
                }
                ls.set(i, d.withInputs(inputs));
                break;
            }
        }
        return new ModelConfig(ls, preprocessing, compile);
    }

    public ModelConfig withPreprocessing(Normalizer n) {
        return new ModelConfig(layers, n, compile);
    }

    public ModelConfig withCompile(CompileConfig c) {
        return new ModelConfig(layers, preprocessing, c);
    }

    /** The config as plain JSON values (maps, lists, strings, numbers), as protocols that carry JSON hold it. */
    public Map<String, Object> toMap() {
        return Configs.toMap(this);
    }

    /** {@link #fromJson(String)} from plain JSON values, as {@link #toMap()} gives them. */
    public static ModelConfig fromMap(Map<String, ?> map) {
        return Configs.fromTree(LegacyConfigs.upgrade(Configs.toTree(map)), ModelConfig.class);
    }

    /** The JSON of this config. */
    public String toJson() {
        return Configs.toJson(this);
    }

    /** The JSON of this config, indented. */
    public String toPrettyJson() {
        return Configs.toPrettyJson(this);
    }

    /**
     * Reads a model config, of the current schema version or of the version-1 schema of files saved before it.
     *
     * @throws IllegalArgumentException invalid JSON or config, with the path of the offending field
     */
    public static ModelConfig fromJson(String json) {
        JsonNode tree = Configs.parse(json);
        if (tree == null || !tree.isObject()) { // "null" would read as no config at all
            throw new IllegalArgumentException("a model config must be a JSON object, got "
                    + (tree == null ? "nothing" : tree.getNodeType().name().toLowerCase(java.util.Locale.ROOT)));
        }
        return Configs.fromTree(LegacyConfigs.upgrade(tree), ModelConfig.class);
    }

    /** {@link #fromJson(String)} from a file; the message names it. */
    public static ModelConfig fromJson(Path file) {
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
}
