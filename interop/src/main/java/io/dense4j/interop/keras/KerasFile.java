package io.dense4j.interop.keras;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jhdf.HdfFile;
import io.jhdf.api.Dataset;
import io.jhdf.api.Group;
import io.jhdf.api.Node;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * An opened Keras model file: its model config, training config and a {@link WeightStore}. Three containers occur:
 * <ul>
 *   <li>HDF5 written by {@code model.save("x.h5")} (Keras 2 / tf.keras, and Keras 3's legacy writer):
 *       {@code model_config} / {@code training_config} JSON root attributes, weights under {@code model_weights}
 *       listed by the {@code layer_names} / {@code weight_names} attributes (hdf5_format.py, legacy_h5_format.py);</li>
 *   <li>a {@code .keras} zip (Keras 3, and tf.keras 2.13+): {@code config.json} (with {@code compile_config}),
 *       {@code metadata.json}, {@code model.weights.h5} whose variables sit at {@code layers/<class>[_n]/vars/<i>}
 *       (saving_lib.py).</li>
 * </ul>
 */
final class KerasFile implements AutoCloseable {
    static final byte[] HDF5_SIGNATURE = {(byte) 0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    private static final ObjectMapper JSON = new ObjectMapper();
    /** config.json and the config attributes are JSON text; anything bigger than this is not a Dense model's. */
    private static final long MAX_CONFIG_BYTES = 64L << 20;
    /** Keras stores zip members uncompressed; deflated ones may not claim more than this ratio (zip bombs). */
    private static final long MAX_ZIP_EXPANSION = 100;
    /**
     * The same for model.weights.h5, which is extracted to a temporary file: float weights deflate to ~90% of their
     * size (a mostly-zero tensor further), so a bigger claim is a bomb aimed at the disk.
     */
    static final long MAX_WEIGHTS_EXPANSION = 32;
    /** Extracting model.weights.h5 may take at most this share of the temporary directory's free space. */
    private static final double MAX_TEMP_SHARE = 0.5;

    final Path path;
    final String format;
    final String kerasVersion;
    final JsonNode modelConfig;
    final JsonNode trainingConfig;
    /** Class names Dense4J's exporter put into metadata.json ("dense4j": {"class_names": [...]}), else empty. */
    final java.util.List<String> classNames;
    final WeightStore weights;
    private final HdfFile hdf;
    private final Path tempFile;

    private KerasFile(Path path, String format, String kerasVersion, JsonNode modelConfig, JsonNode trainingConfig,
                      java.util.List<String> classNames, WeightStore weights, HdfFile hdf, Path tempFile) {
        this.path = path;
        this.format = format;
        this.kerasVersion = kerasVersion;
        this.modelConfig = modelConfig;
        this.trainingConfig = trainingConfig;
        this.classNames = classNames;
        this.weights = weights;
        this.hdf = hdf;
        this.tempFile = tempFile;
    }

    /**
     * Whether the file starts with the HDF5 signature. HDF5 also allows it after a user block (512, 1024... bytes);
     * h5py, and so Keras, never writes one, and looking there could mistake another format's bytes for a signature.
     */
    static boolean isHdf5(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(8);
            while (b.hasRemaining() && ch.read(b, b.position()) > 0) {
                // read the first 8 bytes
            }
            return !b.hasRemaining() && java.util.Arrays.equals(b.array(), HDF5_SIGNATURE);
        }
    }

    /** Whether the file is a zip holding a config.json (a .keras archive). */
    static boolean isKerasZip(Path file) throws IOException {
        byte[] head = new byte[4];
        try (InputStream in = Files.newInputStream(file)) {
            if (in.readNBytes(head, 0, 4) != 4 || head[0] != 'P' || head[1] != 'K' || head[2] != 3 || head[3] != 4) {
                return false;
            }
        }
        try (ZipFile z = new ZipFile(file.toFile())) {
            return z.getEntry("config.json") != null;
        } catch (java.util.zip.ZipException e) {
            return false;
        }
    }

    static KerasFile open(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new java.nio.file.NoSuchFileException(file.toString());
        }
        if (isHdf5(file)) {
            return openH5(file);
        }
        if (isKerasZip(file)) {
            return openZip(file);
        }
        throw new IllegalArgumentException("not a Keras model: neither HDF5 (model.save('x.h5')) nor a .keras zip with "
                + "config.json");
    }

    // ------------------------------------------------------------------------------------------------ HDF5

    private static KerasFile openH5(Path file) {
        HdfFile h;
        try {
            h = new HdfFile(file);
        } catch (RuntimeException e) { // jHDF's words ("Couldn't read 0 bytes as int") do not say what is wrong
            throw new IllegalArgumentException("truncated or corrupt HDF5 file: its superblock cannot be read ("
                    + e.getMessage() + ")", e);
        }
        try {
            H5.checkComplete(h, Files.size(file), "the file");
            String config = H5.string(h, "model_config");
            if (config == null) {
                boolean weightsOnly = h.getAttribute("layer_names") != null || h.getChildren().containsKey("layers")
                        || h.getChildren().containsKey("vars");
                throw new IllegalArgumentException(weightsOnly
                        ? "a weights-only file (model.save_weights): it has no model_config; save the whole model "
                        + "with model.save"
                        : "an HDF5 file without a Keras model_config attribute");
            }
            String version = H5.string(h, "keras_version");
            if (version != null && version.startsWith("1.")) {
                throw new IllegalArgumentException("a Keras " + version + " file; Dense4J reads Keras 2 and 3 files");
            }
            String training = H5.string(h, "training_config");
            Group mw = H5.group(h, "model_weights");
            if (mw == null) {
                throw new IllegalArgumentException("the file has a model_config but no model_weights group (saved "
                        + "without weights?)");
            }
            String fmt = version != null && version.startsWith("3.") ? "Keras 3 HDF5" : "Keras 2 HDF5";
            return new KerasFile(file, fmt, version, json(config, "model_config"),
                    training == null ? null : json(training, "training_config"), java.util.List.of(),
                    new LegacyH5Store(mw, Files.size(file)), h, null);
        } catch (RuntimeException | IOException e) {
            h.close();
            throw e instanceof RuntimeException r ? r : new java.io.UncheckedIOException((IOException) e);
        }
    }

    // ------------------------------------------------------------------------------------------------ .keras zip

    private static KerasFile openZip(Path file) throws IOException {
        try (ZipFile z = new ZipFile(file.toFile())) {
            JsonNode config = json(new String(read(z, "config.json", MAX_CONFIG_BYTES), StandardCharsets.UTF_8),
                    "config.json");
            String version = null;
            java.util.List<String> classNames = new ArrayList<>();
            if (z.getEntry("metadata.json") != null) {
                JsonNode meta = json(new String(read(z, "metadata.json", 1 << 20), StandardCharsets.UTF_8), "metadata.json");
                version = meta.path("keras_version").isTextual() ? meta.get("keras_version").asText() : null;
                meta.path("dense4j").path("class_names").forEach(n -> classNames.add(n.asText()));
            }
            if (z.getEntry("model.weights.h5") == null) {
                throw new IllegalArgumentException(z.getEntry("model.weights.npz") != null
                        ? "its weights are in model.weights.npz (weights_format='npz'); Dense4J reads model.weights.h5"
                        : z.getEntry("model.weights.json") != null
                        ? "its weights are sharded (model.weights.json); Dense4J reads a single model.weights.h5"
                        : "the archive has no model.weights.h5");
            }
            Path tmp = Files.createTempFile("dense4j-keras-", ".weights.h5");
            HdfFile h = null;
            try {
                extract(z, "model.weights.h5", tmp);
                h = new HdfFile(tmp);
                H5.checkComplete(h, Files.size(tmp), "model.weights.h5");
                String major = version != null && version.startsWith("2.") ? "2" : "3";
                return new KerasFile(file, "Keras " + major + " .keras", version,
                        config, config.get("compile_config"), classNames, new SavingLibStore(h, Files.size(tmp), version), h, tmp);
            } catch (RuntimeException | IOException e) {
                if (h != null) {
                    h.close();
                }
                Files.deleteIfExists(tmp);
                throw e;
            }
        }
    }

    private static ZipEntry entry(ZipFile z, String name, long limit) {
        return entry(z, name, limit, MAX_ZIP_EXPANSION);
    }

    private static ZipEntry entry(ZipFile z, String name, long limit, long maxExpansion) {
        ZipEntry e = z.getEntry(name);
        if (e == null) {
            throw new IllegalArgumentException("the archive has no " + name);
        }
        long size = e.getSize();
        long packed = e.getCompressedSize();
        if (size < 0 || size > limit
                || (e.getMethod() != ZipEntry.STORED && size > 1 << 20 && size / maxExpansion > packed)) {
            throw new IllegalArgumentException(name + " declares " + size + " bytes from " + packed
                    + " stored bytes (limit " + limit + "): not a Keras archive member");
        }
        return e;
    }

    private static byte[] read(ZipFile z, String name, long limit) throws IOException {
        ZipEntry e = entry(z, name, limit);
        try (InputStream in = z.getInputStream(e)) {
            byte[] b = in.readNBytes((int) e.getSize());
            if (b.length != e.getSize() || in.read() != -1) {
                throw new IllegalArgumentException(name + " does not hold the " + e.getSize() + " bytes it declares");
            }
            return b;
        }
    }

    private static void extract(ZipFile z, String name, Path to) throws IOException {
        ZipEntry e = entry(z, name, Long.MAX_VALUE, MAX_WEIGHTS_EXPANSION);
        long want = e.getSize();
        long free = Files.getFileStore(to).getUsableSpace();
        if (want > free * MAX_TEMP_SHARE) {
            throw new IllegalArgumentException(name + " declares " + want + " bytes; the temporary directory has "
                    + free + " bytes free, and extracting it may take at most half of that");
        }
        try (InputStream in = z.getInputStream(e); OutputStream out = Files.newOutputStream(to)) {
            byte[] buf = new byte[1 << 16];
            long got = 0;
            int r;
            while ((r = in.read(buf)) > 0) {
                got += r;
                if (got > want) {
                    throw new IllegalArgumentException(name + " holds more than the " + want + " bytes it declares");
                }
                out.write(buf, 0, r);
            }
            if (got != want) {
                throw new IllegalArgumentException(name + " holds " + got + " of the " + want + " bytes it declares "
                        + "(truncated)");
            }
        } catch (java.util.zip.ZipException | java.io.EOFException ex) {
            throw new IllegalArgumentException(name + " cannot be read from the archive: " + ex.getMessage());
        }
    }

    private static JsonNode json(String text, String what) {
        if (text.length() > MAX_CONFIG_BYTES) {
            throw new IllegalArgumentException(what + " is " + text.length() + " characters long");
        }
        try {
            return JSON.readTree(text);
        } catch (IOException e) {
            throw new IllegalArgumentException(what + " is not valid JSON: " + e.getMessage());
        }
    }

    @Override
    public void close() throws IOException {
        hdf.close();
        if (tempFile != null) {
            Files.deleteIfExists(tempFile);
        }
    }

    // ------------------------------------------------------------------------------------------------ weights

    /** A layer as the weight stores see it: its position among the model's layers, name and class. */
    record LayerRef(int index, String name, String className, boolean hasWeights) {
        String describe() {
            return "layer '" + name + "' (" + className + ")";
        }
    }

    /** The saved variables of each layer. */
    interface WeightStore {
        /** Binds the model's layers (in the model's order, InputLayer excluded) to their saved variables. */
        Map<LayerRef, List<Dataset>> bind(List<LayerRef> layers);

        /** Bytes of the HDF5 file, the ceiling for what any dataset may claim. */
        long fileBytes();

        /** Where the variables of a layer are expected, for messages. */
        String where(LayerRef layer);
    }

    /**
     * A layer's weights jHDF cannot parse. The one known case in files Keras writes: h5py stores bfloat16 (a dtype
     * policy Keras 3 offers) as an opaque HDF5 type, whose tag jHDF fails on.
     */
    static IllegalArgumentException unreadable(LayerRef layer, String where, io.jhdf.exceptions.HdfException e) {
        Throwable cause = e;
        while (cause.getCause() != null) {
            cause = cause.getCause();
        }
        return new IllegalArgumentException("the weights of " + layer.describe() + " (" + where + ") cannot be read ("
                + e.getMessage() + (cause == e ? "" : ": " + cause.getMessage()) + "); h5py stores bfloat16 weights "
                + "as an opaque HDF5 type, which Dense4J cannot read: if the model computes in bfloat16, save it with "
                + "float32 or float16 weights", e);
    }

    /**
     * hdf5_format.py / legacy_h5_format.py: {@code model_weights.attrs["layer_names"]} lists the layers; those whose
     * {@code weight_names} is not empty are matched IN ORDER to the model's layers that have weights (as Keras's
     * load_weights_from_hdf5_group does), and each weight name is a path under the layer's group
     * ({@code dense/kernel:0} in Keras 2, {@code dense/kernel} or {@code sequential/dense/kernel} in Keras 3).
     */
    static final class LegacyH5Store implements WeightStore {
        private final Group root;
        private final long bytes;
        private final Map<LayerRef, String> groupOf = new HashMap<>();

        LegacyH5Store(Group modelWeights, long bytes) {
            this.root = modelWeights;
            this.bytes = bytes;
        }

        @Override
        public Map<LayerRef, List<Dataset>> bind(List<LayerRef> layers) {
            List<String> saved = new ArrayList<>();
            Map<String, List<String>> names = new HashMap<>();
            for (String layer : H5.strings(root, "layer_names")) {
                Group g = H5.group(root, layer);
                if (g == null) {
                    throw new IllegalArgumentException("model_weights lists layer '" + layer + "' but has no group for it");
                }
                List<String> w = H5.strings(g, "weight_names");
                if (!w.isEmpty()) {
                    saved.add(layer);
                    names.put(layer, w);
                }
            }
            List<LayerRef> weighted = layers.stream().filter(LayerRef::hasWeights).toList();
            if (saved.size() != weighted.size()) {
                throw new IllegalArgumentException("the model has " + weighted.size() + " layers with weights "
                        + weighted.stream().map(LayerRef::name).toList() + " but model_weights holds weights for "
                        + saved.size() + " " + saved + " (missing weights?)");
            }
            Map<LayerRef, List<Dataset>> out = new HashMap<>();
            for (int i = 0; i < weighted.size(); i++) {
                String layer = saved.get(i);
                Group g = H5.group(root, layer);
                List<Dataset> ds = new ArrayList<>();
                for (String w : names.get(layer)) {
                    Dataset d;
                    try {
                        d = H5.dataset(g, w);
                    } catch (io.jhdf.exceptions.HdfException e) {
                        throw unreadable(weighted.get(i), "model_weights/" + layer, e);
                    }
                    if (d == null) {
                        throw new IllegalArgumentException(weighted.get(i).describe() + ": weight '" + w + "' listed in "
                                + "model_weights/" + layer + " is missing");
                    }
                    ds.add(d);
                }
                out.put(weighted.get(i), ds);
                groupOf.put(weighted.get(i), "model_weights/" + layer + " " + names.get(layer));
            }
            return out;
        }

        @Override
        public long fileBytes() {
            return bytes;
        }

        @Override
        public String where(LayerRef layer) {
            return groupOf.getOrDefault(layer, "model_weights");
        }
    }

    /**
     * saving_lib.py: each layer's variables are datasets {@code 0, 1, ...} of {@code layers/<name>/vars}, where the name
     * is the snake_case class name made unique with {@code _1, _2, ...} in the order of {@code model.layers}; the config's
     * layer names do not appear. tf.keras 2.12 to 2.14 wrote {@code _layer_checkpoint_dependencies} instead of
     * {@code layers}: a dict in which every layer with weights appears twice (as {@code layer_with_weights-i} and as
     * {@code layer-j}), and before 2.14 each appearance took a name, the second then skipped as saved already
     * (dense, dense_2, dense_4 for three Dense layers; 2.14 numbers them dense, dense_1, dense_2).
     */
    static final class SavingLibStore implements WeightStore {
        private static final String LAYERS = "layers";
        private static final String CHECKPOINT_DEPENDENCIES = "_layer_checkpoint_dependencies";
        private final Group root;
        private final long bytes;
        private final String kerasVersion;
        private final Map<LayerRef, String> pathOf = new HashMap<>();

        SavingLibStore(Group root, long bytes, String kerasVersion) {
            this.root = root;
            this.bytes = bytes;
            this.kerasVersion = kerasVersion;
        }

        /** Each layer's group under {@code top}, named as saving_lib numbered them ({@code doubled}: before 2.14). */
        private static Map<LayerRef, String> names(List<LayerRef> layers, String top, boolean doubled) {
            Map<String, Integer> used = new HashMap<>();
            Map<LayerRef, String> out = new HashMap<>();
            for (LayerRef l : layers) {
                String base = KerasNames.snake(l.className());
                Integer n = used.get(base);
                out.put(l, top + "/" + (n == null ? base : base + "_" + n));
                int next = n == null ? 1 : n + 1;
                used.put(base, doubled && l.hasWeights() ? next + 1 : next);
            }
            return out;
        }

        /** The numbering every layer with weights finds its group in, this Keras version's first; else that one. */
        private Map<LayerRef, String> layout(List<LayerRef> layers) {
            if (H5.group(root, LAYERS) != null || H5.group(root, CHECKPOINT_DEPENDENCIES) == null) {
                return names(layers, LAYERS, false);
            }
            boolean before214 = kerasVersion != null && (kerasVersion.startsWith("2.12.") || kerasVersion.startsWith("2.13."));
            List<Map<LayerRef, String>> tries = List.of(names(layers, CHECKPOINT_DEPENDENCIES, before214),
                    names(layers, CHECKPOINT_DEPENDENCIES, !before214));
            for (Map<LayerRef, String> t : tries) {
                if (layers.stream().filter(LayerRef::hasWeights).allMatch(l -> H5.group(root, t.get(l) + "/vars") != null)) {
                    return t;
                }
            }
            return tries.get(0);
        }

        @Override
        public Map<LayerRef, List<Dataset>> bind(List<LayerRef> layers) {
            Map<LayerRef, List<Dataset>> out = new HashMap<>();
            Map<LayerRef, String> groups = layout(layers);
            for (LayerRef l : layers) {
                String path = groups.get(l) + "/vars";
                Group vars = H5.group(root, path);
                pathOf.put(l, path);
                if (!l.hasWeights()) {
                    continue;
                }
                if (vars == null) {
                    throw new IllegalArgumentException("the weights of " + l.describe() + " are missing: model.weights.h5 "
                            + "has no group " + path);
                }
                try {
                    vars.getChildren();
                } catch (io.jhdf.exceptions.HdfException e) {
                    throw unreadable(l, "model.weights.h5 " + path, e);
                }
                List<Dataset> ds = new ArrayList<>();
                for (int i = 0; ; i++) {
                    Node v = vars.getChildren().get(Integer.toString(i));
                    if (v == null) {
                        break;
                    }
                    if (!(v instanceof Dataset d)) {
                        throw new IllegalArgumentException(path + "/" + i + " is not a dataset");
                    }
                    ds.add(d);
                }
                if (ds.size() != vars.getChildren().size()) {
                    throw new IllegalArgumentException(path + " holds " + vars.getChildren().keySet()
                            + ", expected datasets named 0, 1, ...");
                }
                out.put(l, ds);
            }
            return out;
        }

        @Override
        public long fileBytes() {
            return bytes;
        }

        @Override
        public String where(LayerRef layer) {
            return "model.weights.h5 " + pathOf.getOrDefault(layer, "layers/...");
        }
    }
}
