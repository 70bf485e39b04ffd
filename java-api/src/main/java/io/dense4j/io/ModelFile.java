package io.dense4j.io;

import com.fasterxml.jackson.core.type.TypeReference;
import io.dense4j.config.Configs;
import io.dense4j.data.Normalizer;
import io.dense4j.layers.Architecture;
import io.dense4j.model.ModelConfig;
import io.dense4j.model.ModelState;
import io.dense4j.optim.OptimizerState;
import io.dense4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The Dense4J model file (.d4j): ONE safetensors file, so any safetensors reader can open the weights. It holds a
 * {@link ModelState}, never a live model: {@link #write} takes one, {@link #read} validates the file completely and
 * returns one, and {@code Sequential} builds itself from it.
 *
 * <ul>
 *   <li>tensors {@code dense_<i>.kernel} F32 [inputs, units] and {@code dense_<i>.bias} F32 [units], for the
 *       i-th Dense layer; {@code optimizer.state} F32 [3, parameters] only when the state's optimizer buffers are
 *       saved ({@code save(file, true)}, checkpoints for an exact resume);</li>
 *   <li>{@code __metadata__} (string to string): {@code format} = "dense4j-model", {@code format_version} = "1",
 *       {@code config} (JSON: the {@link ModelConfig} without its preprocessing), {@code preprocessing} (JSON
 *       normalizer config or null), {@code class_names} (JSON array), {@code training} (JSON: history, seed, steps,
 *       time), {@code optimizer_step}.</li>
 * </ul>
 * Files written before config schema version 2 hold a version-1 config and load unchanged. Writes are atomic
 * (temp file + fsync + rename) through {@link AtomicFiles}.
 */
public final class ModelFile {
    public static final String FORMAT = "dense4j-model";
    public static final String VERSION = "1";
    /** The tensor of the optimizer's buffers, when saved. */
    public static final String OPTIMIZER_STATE = "optimizer.state";

    private ModelFile() {}

    /**
     * Writes {@code state} to {@code file} atomically (creating missing directories). The optimizer's buffers are
     * written when the state has them; {@link OptimizerState#withoutSlots()} leaves them out.
     *
     * @throws java.io.UncheckedIOException the file cannot be written (any previous file stays intact)
     */
    public static void write(Path file, ModelState state) {
        Architecture arch = state.config().architecture();
        float[] params = state.parameters();
        LinkedHashMap<String, Tensor> tensors = new LinkedHashMap<>();
        try {
            for (int l = 0; l < arch.layers(); l++) {
                int in = arch.size(l);
                int out = arch.size(l + 1);
                tensors.put(kernelName(l), Tensor.of(Arrays.copyOfRange(params, (int) arch.kernelOffset(l),
                        (int) (arch.kernelOffset(l) + arch.kernelSize(l))), in, out));
                tensors.put(biasName(l), Tensor.of(Arrays.copyOfRange(params, (int) arch.biasOffset(l),
                        (int) arch.biasOffset(l) + out), out));
            }
            if (state.optimizer().hasSlots()) {
                tensors.put(OPTIMIZER_STATE, Tensor.of(state.optimizer().slots(), OptimizerState.SLOTS,
                        arch.parameterCount()));
            }
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("format", FORMAT);
            meta.put("format_version", VERSION);
            meta.put("config", state.config().withPreprocessing(null).toJson());
            Normalizer pre = state.config().preprocessing();
            meta.put("preprocessing", pre == null ? "null" : Configs.toJson(pre));
            meta.put("class_names", Configs.toJson(state.classNames()));
            meta.put("training", Configs.toJson(state.training()));
            meta.put("optimizer_step", Long.toString(state.optimizer().step()));
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            SafeTensors.write(file, tensors, meta);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot save the model to " + file + ": " + e.getMessage(), e);
        } finally {
            tensors.values().forEach(Tensor::close);
        }
    }

    /**
     * Reads and validates a model file completely before returning: the safetensors layout (sizes and offsets
     * against the file's length), the format and version, the config, every tensor's name, dtype and shape against
     * the architecture (before any data is read), the values (finite), the metadata.
     *
     * @throws ModelFormatException naming the file and the problem
     */
    public static ModelState read(Path file) {
        try (SafeTensors.File st = open(file)) {
            return read(file, st);
        } catch (IOException e) {
            throw new ModelFormatException(file + ": " + e.getMessage(), e);
        }
    }

    private static ModelState read(Path file, SafeTensors.File st) throws IOException {
        Map<String, String> meta = st.metadata();
        if (!FORMAT.equals(meta.get("format"))) {
            throw new ModelFormatException(file + ": not a Dense4J model (safetensors metadata 'format' is "
                    + shown(meta.get("format")) + ", expected " + FORMAT + ")");
        }
        if (!VERSION.equals(meta.get("format_version"))) {
            throw new ModelFormatException(file + ": unsupported Dense4J format version "
                    + shown(meta.get("format_version")) + " (this build reads " + VERSION + ")");
        }
        String configJson = meta.get("config");
        if (configJson == null) {
            throw new ModelFormatException(file + ": metadata 'config' is missing");
        }
        ModelConfig config;
        Architecture arch;
        try {
            config = ModelConfig.fromJson(configJson);
            String pre = meta.get("preprocessing");
            if (pre != null && !pre.trim().equals("null")) {
                config = config.withPreprocessing(Configs.fromJson(pre, Normalizer.class));
            }
            arch = config.validate().architecture();
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(file + ": invalid model config: " + e.getMessage());
        }

        // every shape is checked against the architecture before any tensor data is read
        Set<String> expected = new TreeSet<>();
        for (int l = 0; l < arch.layers(); l++) {
            checkEntry(file, st, kernelName(l), new long[] {arch.size(l), arch.size(l + 1)});
            checkEntry(file, st, biasName(l), new long[] {arch.size(l + 1)});
            expected.add(kernelName(l));
            expected.add(biasName(l));
        }
        boolean hasSlots = st.contains(OPTIMIZER_STATE);
        if (hasSlots) {
            checkEntry(file, st, OPTIMIZER_STATE, new long[] {OptimizerState.SLOTS, arch.parameterCount()});
            expected.add(OPTIMIZER_STATE);
        }
        Set<String> extra = new TreeSet<>(st.names());
        extra.removeAll(expected);
        if (!extra.isEmpty()) {
            throw new ModelFormatException(file + ": tensors " + extra + " do not belong to the architecture");
        }

        float[] params = new float[Math.toIntExact(arch.parameterCount())];
        for (int l = 0; l < arch.layers(); l++) {
            copy(file, st, kernelName(l), params, arch.kernelOffset(l));
            copy(file, st, biasName(l), params, arch.biasOffset(l));
        }
        long step;
        try {
            step = Long.parseLong(meta.getOrDefault("optimizer_step", "0").trim());
        } catch (NumberFormatException e) {
            throw new ModelFormatException(file + ": metadata 'optimizer_step' is not a number: "
                    + shown(meta.get("optimizer_step")));
        }
        List<String> names = meta.containsKey("class_names")
                ? json(file, meta, "class_names", new TypeReference<List<String>>() {}) : List.of();
        Map<String, Object> training = meta.containsKey("training")
                ? json(file, meta, "training", new TypeReference<Map<String, Object>>() {}) : Map.of();
        try {
            OptimizerState optimizer = new OptimizerState(step, hasSlots ? st.floats(OPTIMIZER_STATE) : null);
            return new ModelState(config, params, optimizer, names == null ? List.of() : names,
                    training == null ? Map.of() : training).validate();
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(file + ": " + e.getMessage());
        }
    }

    private static String kernelName(int l) {
        return "dense_" + l + ".kernel";
    }

    private static String biasName(int l) {
        return "dense_" + l + ".bias";
    }

    /** Opens the safetensors container; every I/O problem becomes a ModelFormatException naming the file. */
    private static SafeTensors.File open(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new ModelFormatException(file + ": no such model file");
        }
        String other = otherFormat(file);
        if (other != null) {
            throw new ModelFormatException(file + ": " + other + ", not a Dense4J model file (.d4j): convert it with "
                    + "`dense4j import " + file.getFileName() + " -o model.d4j` (Models.importKeras in Java); the "
                    + "registry and the admin upload take Keras files as they are");
        }
        try {
            return SafeTensors.read(file);
        } catch (IOException e) {
            throw new ModelFormatException(file + ": cannot read the model file: " + e.getMessage(), e);
        } catch (ModelFormatException e) {
            String m = String.valueOf(e.getMessage());
            if (!m.contains("not a safetensors file")) {
                throw e;
            }
            String prefix = file + ": ";
            throw new ModelFormatException(prefix + "not a Dense4J model file (.d4j, a safetensors file; an ONNX model "
                    + "cannot be loaded): " + (m.startsWith(prefix) ? m.substring(prefix.length()) : m), e);
        }
    }

    /** What a file that Dense4J reads by import, not as a model file, is (by its first bytes), or null. */
    private static String otherFormat(Path file) {
        byte[] head = new byte[8];
        int n;
        try (java.io.InputStream in = Files.newInputStream(file)) {
            n = in.readNBytes(head, 0, head.length);
        } catch (IOException e) {
            return null; // the reader below says what is wrong
        }
        if (n == 8 && (head[0] & 0xff) == 0x89 && head[1] == 'H' && head[2] == 'D' && head[3] == 'F') {
            return "a Keras HDF5 file (.h5)";
        }
        if (n >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) {
            return "a zip archive (a Keras .keras file?)";
        }
        return null;
    }

    /** The config and the tensors must agree: a mismatch is reported as what the config asks for. */
    private static void checkEntry(Path file, SafeTensors.File st, String name, long[] shape) {
        if (!st.contains(name)) {
            throw new ModelFormatException(file + ": invalid model config: the architecture needs tensor " + name
                    + ", the file has none (tensor " + name + " is missing)");
        }
        SafeTensors.Entry e = st.entry(name);
        // any float dtype is read as float32 (F16, BF16 and F64 are converted), as safetensors readers do
        if (e.dtype().tensorType() != Tensor.DType.FLOAT32 || !Arrays.equals(e.shape(), shape)) {
            throw new ModelFormatException(file + ": invalid model config: the architecture needs tensor " + name
                    + " as FLOAT32 " + Arrays.toString(shape) + ", the file holds " + e.dtype().tensorType() + " "
                    + Arrays.toString(e.shape()));
        }
    }

    private static void copy(Path file, SafeTensors.File st, String name, float[] dst, long offset) throws IOException {
        float[] v = st.floats(name);
        for (int i = 0; i < v.length; i++) {
            if (!Float.isFinite(v[i])) {
                throw new ModelFormatException(file + ": tensor " + name + " holds " + v[i] + " at index " + i);
            }
        }
        System.arraycopy(v, 0, dst, (int) offset, v.length);
    }

    /** A metadata value as an error shows it: a file can hold megabytes there, the message its first 64 characters. */
    private static String shown(String value) {
        return value == null || value.length() <= 64 ? String.valueOf(value)
                : value.substring(0, 64) + "... (" + value.length() + " characters)";
    }

    private static <T> T json(Path file, Map<String, String> meta, String key, TypeReference<T> type) {
        String s = meta.get(key);
        if (s == null) {
            throw new ModelFormatException(file + ": metadata '" + key + "' is missing");
        }
        try {
            return Configs.fromJson(s, type);
        } catch (IllegalArgumentException e) {
            throw new ModelFormatException(file + ": metadata '" + key + "' is not valid: " + e.getMessage());
        }
    }

    /** For tools: the metadata of a model file without loading the weights. */
    public static Map<String, String> metadata(Path file) {
        try (SafeTensors.File st = open(file)) {
            return new LinkedHashMap<>(st.metadata());
        } catch (IOException e) {
            throw new ModelFormatException(file + ": " + e.getMessage(), e);
        }
    }
}
