package io.dense4j.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dense4j.Sequential;
import io.dense4j.data.Normalizer;
import io.dense4j.engine.Architecture;
import io.dense4j.tensor.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The Dense4J model file (.d4j): ONE safetensors file, so any safetensors reader can open the weights.
 *
 * <ul>
 *   <li>tensors {@code dense_<i>.kernel} F32 [inputs, units] and {@code dense_<i>.bias} F32 [units], for the
 *       i-th Dense layer;</li>
 *   <li>{@code __metadata__} (string to string): {@code format} = "dense4j-model", {@code format_version} = "1",
 *       {@code config} (JSON: layers, loss, optimizer, metrics), {@code preprocessing} (JSON normalizer config or
 *       null), {@code class_names} (JSON array), {@code training} (JSON: history, seed, steps, time),
 *       {@code optimizer_step}.</li>
 * </ul>
 * Writes are atomic (temp file + fsync + rename) through {@link SafeTensors#write}.
 */
public final class ModelFile {
    public static final String FORMAT = "dense4j-model";
    public static final String VERSION = "1";
    private static final ObjectMapper JSON = new ObjectMapper();

    private ModelFile() {}

    public static void write(Path file, Sequential model, Normalizer normalizer, List<String> classNames,
                             Map<String, Object> training) {
        Architecture arch = model.architecture();
        LinkedHashMap<String, Tensor> tensors = new LinkedHashMap<>();
        try {
            for (int l = 0; l < arch.layers(); l++) {
                tensors.put("dense_" + l + ".kernel", Tensor.of(model.kernel(l), arch.sizes()[l], arch.sizes()[l + 1]));
                tensors.put("dense_" + l + ".bias", Tensor.of(model.bias(l), arch.sizes()[l + 1]));
            }
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("format", FORMAT);
            meta.put("format_version", VERSION);
            meta.put("config", JSON.writeValueAsString(model.config()));
            meta.put("preprocessing", JSON.writeValueAsString(normalizer == null ? null : normalizer.config()));
            meta.put("class_names", JSON.writeValueAsString(classNames));
            meta.put("training", JSON.writeValueAsString(training));
            meta.put("optimizer_step", Long.toString(model.optimizerStep()));
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                java.nio.file.Files.createDirectories(parent);
            }
            SafeTensors.write(file, tensors, meta);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialize the model config: " + e.getMessage(), e);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot save the model to " + file + ": " + e.getMessage(), e);
        } finally {
            tensors.values().forEach(Tensor::close);
        }
    }

    public static Sequential read(Path file) {
        try (SafeTensors.File st = open(file)) {
            return read(file, st);
        } catch (java.io.IOException e) {
            throw new ModelFormatException(file + ": " + e.getMessage(), e);
        }
    }

    private static Sequential read(Path file, SafeTensors.File st) throws java.io.IOException {
        {
            Map<String, String> meta = st.metadata();
            if (!FORMAT.equals(meta.get("format"))) {
                throw new ModelFormatException(file + ": not a Dense4J model (safetensors metadata 'format' is "
                        + meta.get("format") + ", expected " + FORMAT + ")");
            }
            if (!VERSION.equals(meta.get("format_version"))) {
                throw new ModelFormatException(file + ": unsupported Dense4J format version "
                        + meta.get("format_version") + " (this build reads " + VERSION + ")");
            }
            Map<String, Object> config = json(file, meta, "config", new TypeReference<>() {});
            ModelFileCheck.configMatchesTensors(file, config, st); // before anything is allocated from the config
            Sequential model;
            try {
                model = Sequential.fromConfig(config);
            } catch (RuntimeException e) {
                throw new ModelFormatException(file + ": invalid model config: " + e.getMessage());
            }
            try {
                Architecture arch = model.architecture();
                Set<String> expected = new TreeSet<>();
                float[] params = new float[Math.toIntExact(arch.parameterCount())];
                for (int l = 0; l < arch.layers(); l++) {
                    int in = arch.sizes()[l];
                    int out = arch.sizes()[l + 1];
                    copy(file, st, "dense_" + l + ".kernel", new long[] {in, out}, params, arch.kernelOffset(l));
                    copy(file, st, "dense_" + l + ".bias", new long[] {out}, params, arch.biasOffset(l));
                    expected.add("dense_" + l + ".kernel");
                    expected.add("dense_" + l + ".bias");
                }
                Set<String> extra = new TreeSet<>(st.names());
                extra.removeAll(expected);
                if (!extra.isEmpty()) {
                    throw new ModelFormatException(file + ": tensors " + extra + " do not belong to the architecture");
                }
                model.setParameters(params);
                Map<String, Object> pre = json(file, meta, "preprocessing", new TypeReference<>() {});
                List<String> names = meta.containsKey("class_names")
                        ? json(file, meta, "class_names", new TypeReference<List<String>>() {}) : List.of();
                Map<String, Object> training = meta.containsKey("training")
                        ? json(file, meta, "training", new TypeReference<Map<String, Object>>() {}) : Map.of();
                long step = Long.parseLong(meta.getOrDefault("optimizer_step", "0"));
                if (names != null && !names.isEmpty() && names.size() != arch.outputs()) {
                    throw new ModelFormatException(file + ": " + names.size() + " class names for " + arch.outputs()
                            + " outputs");
                }
                model.restore(pre == null ? null : Normalizer.fromConfig(pre), names == null ? List.of() : names,
                        training == null ? Map.of() : training, step);
                return model;
            } catch (RuntimeException e) {
                model.close();
                if (e instanceof ModelFormatException) {
                    throw e;
                }
                throw new ModelFormatException(file + ": " + e.getMessage());
            }
        }
    }

    /** Opens the safetensors container; every I/O problem becomes a ModelFormatException naming the file. */
    private static SafeTensors.File open(Path file) {
        if (!java.nio.file.Files.isRegularFile(file)) {
            throw new ModelFormatException(file + ": no such model file");
        }
        try {
            return SafeTensors.read(file);
        } catch (java.io.IOException e) {
            throw new ModelFormatException(file + ": cannot read the model file: " + e.getMessage(), e);
        }
    }

    private static void copy(Path file, SafeTensors.File st, String name, long[] shape, float[] dst, long offset)
            throws java.io.IOException {
        if (!st.names().contains(name)) {
            throw new ModelFormatException(file + ": tensor " + name + " is missing");
        }
        try (Tensor t = st.tensor(name)) {
            if (t.dtype() != Tensor.DType.FLOAT32 || !java.util.Arrays.equals(t.shape(), shape)) {
                throw new ModelFormatException(file + ": tensor " + name + " is " + t.dtype() + " "
                        + java.util.Arrays.toString(t.shape()) + ", the architecture needs FLOAT32 "
                        + java.util.Arrays.toString(shape));
            }
            float[] v = t.toFloatArray();
            for (int i = 0; i < v.length; i++) {
                if (!Float.isFinite(v[i])) {
                    throw new ModelFormatException(file + ": tensor " + name + " holds " + v[i] + " at index " + i);
                }
            }
            System.arraycopy(v, 0, dst, (int) offset, v.length);
        }
    }

    private static <T> T json(Path file, Map<String, String> meta, String key, TypeReference<T> type) {
        String s = meta.get(key);
        if (s == null) {
            throw new ModelFormatException(file + ": metadata '" + key + "' is missing");
        }
        try {
            return JSON.readValue(s, type);
        } catch (JsonProcessingException e) {
            throw new ModelFormatException(file + ": metadata '" + key + "' is not valid JSON: " + e.getOriginalMessage());
        }
    }

    /** For tools: the metadata of a model file without loading the weights. */
    public static Map<String, String> metadata(Path file) {
        try (SafeTensors.File st = open(file)) {
            return new LinkedHashMap<>(st.metadata());
        } catch (java.io.IOException e) {
            throw new ModelFormatException(file + ": " + e.getMessage(), e);
        }
    }

}
