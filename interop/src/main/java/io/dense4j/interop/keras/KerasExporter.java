package io.dense4j.interop.keras;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.interop.NetworkSpec;
import io.dense4j.interop.NetworkSpec.Affine;
import io.dense4j.interop.NetworkSpec.DenseSpec;
import io.dense4j.interop.NetworkSpec.DropoutSpec;
import io.dense4j.interop.NetworkSpec.LayerSpec;
import io.dense4j.interop.NetworkSpec.Scale;
import io.jhdf.HdfFile;
import io.jhdf.WritableHdfFile;
import io.jhdf.api.WritableGroup;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.HashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Writes a Keras 3 {@code .keras} archive as Keras 3's saving_lib does (saving_lib.py {@code _save_model_to_fileobj}):
 * a zip with uncompressed members {@code metadata.json}, {@code config.json} (the model serialized as
 * {module, class_name, config, registered_name, build_config, compile_config}) and {@code model.weights.h5}, where
 * each layer's variables are datasets {@code 0, 1, ...} of {@code layers/<snake_case class>[_n]/vars} (the group
 * carrying the layer's name as attribute {@code name}). Layers without variables get no group, as Keras 3's H5IOStore
 * does when it is given no metadata (and its loader reads a missing group as "no variables"): jHDF 0.13 writes an
 * empty group beside other groups such that HDF5's library cannot read the file.
 *
 * <p>Choices where Keras versions differ: dtypes are written as the string "float32" (every Keras 3 version reads
 * it; newer ones write a DTypePolicy object), and the optimizer's variables are not written: Keras then starts from
 * a fresh optimizer state, as Dense4J's own files do after compile. Dense4J's class names travel in metadata.json
 * under "dense4j" (Keras ignores it).
 */
final class KerasExporter {
    /** The saving format followed, stated in metadata.json as Keras does. */
    static final String KERAS_VERSION = "3.8.0";
    private static final JsonNodeFactory F = JsonNodeFactory.instance;
    private static final ObjectMapper JSON = new ObjectMapper();

    private KerasExporter() {}

    static void write(NetworkSpec spec, Path file) {
        Path dir = file.toAbsolutePath().getParent();
        Path zipTmp = null;
        Path h5Tmp = null;
        try {
            Files.createDirectories(dir);
            h5Tmp = io.dense4j.io.AtomicFiles.createTemp(dir, file.getFileName() + ".weights.h5");
            Map<LayerSpec, String> names = kerasNames(spec);
            writeWeights(spec, names, h5Tmp);
            byte[] config = JSON.writeValueAsBytes(config(spec, names));
            ObjectNode meta = F.objectNode();
            meta.put("keras_version", KERAS_VERSION);
            meta.put("date_saved", LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyy-MM-dd@HH:mm:ss")));
            if (!spec.classNames().isEmpty()) {
                meta.putObject("dense4j").set("class_names", JSON.valueToTree(spec.classNames()));
            }
            zipTmp = io.dense4j.io.AtomicFiles.createTemp(dir, file.getFileName().toString()); // the permissions a new file gets
            try (OutputStream os = Files.newOutputStream(zipTmp); ZipOutputStream zip = new ZipOutputStream(os)) {
                stored(zip, "metadata.json", JSON.writeValueAsBytes(meta));
                stored(zip, "config.json", config);
                stored(zip, "model.weights.h5", h5Tmp);
            }
            try (var ch = java.nio.channels.FileChannel.open(zipTmp, java.nio.file.StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            Files.move(zipTmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            zipTmp = null;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        } finally {
            deleteQuietly(h5Tmp);
            deleteQuietly(zipTmp);
        }
    }

    /** Keras's automatic layer names, which are also its weight paths: dense, dense_1, dropout, ... */
    private static Map<LayerSpec, String> kerasNames(NetworkSpec spec) {
        Map<LayerSpec, String> names = new java.util.IdentityHashMap<>();
        Map<String, Integer> used = new HashMap<>();
        for (LayerSpec l : spec.layers()) {
            String base = l instanceof DenseSpec ? "dense" : "dropout";
            Integer n = used.get(base);
            names.put(l, n == null ? base : base + "_" + (n + 1));
            used.put(base, n == null ? 0 : n + 1);
        }
        return names;
    }

    // ------------------------------------------------------------------------------------------------ config.json

    static ObjectNode config(NetworkSpec spec, Map<LayerSpec, String> names) {
        ObjectNode model = F.objectNode();
        model.put("module", "keras");
        model.put("class_name", "Sequential");
        ObjectNode c = model.putObject("config");
        c.put("name", "sequential");
        c.put("trainable", true);
        c.put("dtype", "float32");
        ArrayNode layers = c.putArray("layers");
        ObjectNode input = layer(layers, "InputLayer", "input_layer", null, -1);
        input.remove("trainable");
        input.put("sparse", false);
        ((ObjectNode) input).set("batch_shape", shape(spec.inputs()));
        if (spec.preprocessing() instanceof Scale s) {
            ObjectNode r = layer(layers, "Rescaling", "rescaling", layers, spec.inputs());
            r.put("scale", (double) s.factor());
            r.put("offset", 0.0);
        } else if (spec.preprocessing() instanceof Affine a) {
            ObjectNode n = layer(layers, "Normalization", "normalization", layers, spec.inputs());
            n.put("axis", -1);
            n.put("invert", false);
            ArrayNode mean = n.putArray("mean");
            ArrayNode var = n.putArray("variance");
            for (int j = 0; j < a.shift().length; j++) {
                mean.add((double) a.shift()[j]);
                var.add((double) (a.div()[j] * a.div()[j])); // Keras divides by sqrt(variance)
            }
        }
        int width = spec.inputs();
        for (LayerSpec l : spec.layers()) {
            if (l instanceof DenseSpec d) {
                ObjectNode dc = layer(layers, "Dense", names.get(l), layers, width);
                dc.put("units", d.units());
                dc.put("activation", d.activation().configName());
                dc.put("use_bias", true);
                dc.set("kernel_initializer", initializer("GlorotUniform", true));
                dc.set("bias_initializer", initializer("Zeros", false));
                dc.putNull("kernel_regularizer");
                dc.putNull("bias_regularizer");
                dc.putNull("kernel_constraint");
                dc.putNull("bias_constraint");
                width = d.units();
            } else if (l instanceof DropoutSpec r) {
                ObjectNode dc = layer(layers, "Dropout", names.get(l), layers, width);
                dc.put("rate", r.rate());
                dc.putNull("seed");
                dc.putNull("noise_shape");
            }
        }
        c.set("build_input_shape", shape(spec.inputs()));
        model.putNull("registered_name");
        model.putObject("build_config").set("input_shape", shape(spec.inputs()));
        if (spec.training() != null) {
            model.set("compile_config", KerasTraining.toKeras(spec.training(),
                    spec.denseLayers().get(spec.denseLayers().size() - 1).activation()));
        }
        return model;
    }

    /** Appends {module, class_name, config, registered_name[, build_config]} and returns its config. */
    private static ObjectNode layer(ArrayNode layers, String cls, String name, ArrayNode built, int inputWidth) {
        ObjectNode l = layers.addObject();
        l.put("module", "keras.layers");
        l.put("class_name", cls);
        ObjectNode c = l.putObject("config");
        c.put("name", name);
        c.put("trainable", true);
        c.put("dtype", "float32");
        l.putNull("registered_name");
        if (built != null) {
            l.putObject("build_config").set("input_shape", shape(inputWidth));
        }
        return c;
    }

    private static ArrayNode shape(int width) {
        ArrayNode a = F.arrayNode();
        a.addNull();
        a.add(width);
        return a;
    }

    private static ObjectNode initializer(String cls, boolean seeded) {
        ObjectNode o = F.objectNode();
        o.put("module", "keras.initializers");
        o.put("class_name", cls);
        ObjectNode c = o.putObject("config");
        if (seeded) {
            c.putNull("seed");
        }
        o.putNull("registered_name");
        return o;
    }

    // ------------------------------------------------------------------------------------------------ weights

    private static void writeWeights(NetworkSpec spec, Map<LayerSpec, String> names, Path h5) {
        try (WritableHdfFile f = HdfFile.write(h5)) {
            f.removeAttribute("_jHDF"); // jHDF's signature attribute; Keras's files have no root attributes
            WritableGroup layers = f.putGroup("layers");
            for (LayerSpec l : spec.layers()) {
                String name = names.get(l);
                if (l instanceof DenseSpec d) {
                    WritableGroup vars = layers.putGroup(name).putGroup("vars");
                    vars.putAttribute("name", name);
                    float[][] k = new float[d.inputs()][];
                    for (int r = 0; r < d.inputs(); r++) {
                        k[r] = java.util.Arrays.copyOfRange(d.kernel(), r * d.units(), (r + 1) * d.units());
                    }
                    vars.putDataset("0", k);
                    vars.putDataset("1", d.bias().clone());
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ zip

    private static void stored(ZipOutputStream zip, String name, byte[] data) throws IOException {
        CRC32 crc = new CRC32();
        crc.update(data);
        zip.putNextEntry(entry(name, data.length, crc.getValue()));
        zip.write(data);
        zip.closeEntry();
    }

    private static void stored(ZipOutputStream zip, String name, Path data) throws IOException {
        CRC32 crc = new CRC32();
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(data)) {
            int n;
            while ((n = in.read(buf)) > 0) {
                crc.update(buf, 0, n);
            }
        }
        zip.putNextEntry(entry(name, Files.size(data), crc.getValue()));
        Files.copy(data, zip);
        zip.closeEntry();
    }

    private static ZipEntry entry(String name, long size, long crc) {
        ZipEntry e = new ZipEntry(name);
        e.setMethod(ZipEntry.STORED); // as Python's zipfile.ZipFile(..., "w") by default
        e.setSize(size);
        e.setCompressedSize(size);
        e.setCrc(crc);
        e.setTimeLocal(LocalDateTime.of(1980, 1, 1, 0, 0));
        return e;
    }

    private static void deleteQuietly(Path p) {
        if (p != null) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // a leftover temporary file is harmless
            }
        }
    }

    static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }
}
