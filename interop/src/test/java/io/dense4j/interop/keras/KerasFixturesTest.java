package io.dense4j.interop.keras;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dense4j.Models;
import io.dense4j.Sequential;
import io.dense4j.io.ModelFormat;
import io.dense4j.io.ModelFormatException;
import io.dense4j.layers.Activation;
import io.dense4j.optim.LearningRateSchedule;
import io.dense4j.optim.Optimizer;
import io.dense4j.train.Loss;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every Keras layout the importer reads, from the fixtures that src/test/python/make_keras_fixtures.py writes with
 * h5py exactly as each Keras version's writer does (expected outputs from its independent NumPy float64 forward pass),
 * and the broken and hostile files it must refuse with a clear message.
 */
class KerasFixturesTest {
    static final Path DIR = Path.of("src/test/resources/keras");
    private static final ObjectMapper JSON = new ObjectMapper();

    @ParameterizedTest(name = "{0}")
    @CsvSource({
        // fixture,                    sizes,       activations,          loss,                            optimizer
        "k2_vlen.h5,                   12-6-3,      relu-softmax,         SPARSE_CATEGORICAL_CROSSENTROPY, ADAM",
        "k2_fixed_chunked.h5,          12-6-3,      relu-softmax,         SPARSE_CATEGORICAL_CROSSENTROPY, ADAM",
        "k2_old_list_config.h5,        7-5-4,       tanh-linear,          SPARSE_CATEGORICAL_CROSSENTROPY, SGD",
        "k2_functional_chain.h5,       6-4-1,       gelu-sigmoid,         BINARY_CROSSENTROPY,             RMSPROP",
        "k3_legacy_plain.h5,           5-4-3,       relu-softmax,         CATEGORICAL_CROSSENTROPY,        ADAMW",
        "k3_legacy_nested.h5,          5-4-3,       relu-softmax,         CATEGORICAL_CROSSENTROPY,        ADAMW",
        "k3_names_differ.keras,        8-5-3,       sigmoid-softmax,      SPARSE_CATEGORICAL_CROSSENTROPY, RMSPROP",
        "k2_14_checkpoint_deps.keras,  12-4-2,      tanh-softmax,         ,                                ",
        "k2_13_checkpoint_deps.keras,  6-5-4-3,     relu-tanh-softmax,    ,                                ",
        "k3_rescaling_offset.keras,    6-4-3,       relu-softmax,         ,                                ",
        "k3_dict_input.keras,          3-2,         softmax,              ,                                ",
        "k2_11_mixed_precision.h5,     5-4-3,       relu-softmax,         SPARSE_CATEGORICAL_CROSSENTROPY, ADAM",
        "k3_normalization_axis1.keras, 3-2,         linear,               ,                                ",
        "k3_functional_normalization.keras, 3-4-2,  relu-linear,          MEAN_SQUARED_ERROR,              ADAMW",
    })
    void importsEachLayoutWithKerasOutputs(String fixture, String sizes, String acts, String loss, String optimizer)
            throws IOException {
        Path file = DIR.resolve(fixture);
        assertTrue(ModelFormat.named("keras").recognizes(file), "recognized by content");
        JsonNode expected = JSON.readTree(DIR.resolve(fixture.substring(0, fixture.lastIndexOf('.')) + ".expected.json").toFile());
        try (Sequential m = Models.importKeras(file)) {
            int[] want = java.util.Arrays.stream(sizes.split("-")).mapToInt(Integer::parseInt).toArray();
            assertArrayEquals(want, m.architecture().sizes());
            String[] a = acts.split("-");
            for (int i = 0; i < a.length; i++) {
                assertEquals(Activation.fromName(a[i]), m.architecture().activations()[i], "activation " + i);
            }
            if (loss == null) {
                assertNull(m.loss(), "no training config: uncompiled");
            } else {
                assertEquals(Loss.valueOf(loss), m.loss());
                assertEquals(optimizer.toLowerCase(java.util.Locale.ROOT), m.optimizer().typeName());
            }
            JsonNode in = expected.get("inputs");
            float[][] rows = new float[in.size()][];
            for (int r = 0; r < rows.length; r++) {
                rows[r] = new float[in.get(r).size()];
                for (int j = 0; j < rows[r].length; j++) {
                    rows[r][j] = (float) in.get(r).get(j).asDouble();
                }
            }
            float[][] p = m.predict(rows);
            for (int r = 0; r < rows.length; r++) {
                for (int j = 0; j < p[r].length; j++) {
                    assertEquals(expected.get("outputs").get(r).get(j).asDouble(), p[r][j], 1e-5,
                            fixture + " row " + r + " output " + j);
                }
            }
        }
    }

    @Test
    void trainingConfigsBecomeDense4jSettings() {
        try (Sequential m = Models.importKeras(DIR.resolve("k2_old_list_config.h5"))) {
            // legacy SGD(lr=0.05, momentum=0.9, nesterov) trained from logits
            assertEquals(0.05, m.optimizer().schedule().at(0, 0), 1e-9);
            assertEquals(0.9f, (float) m.optimizer().get("momentum"));
            assertEquals(1f, (float) m.optimizer().get("nesterov"));
            assertEquals("accuracy", m.metrics().get(0).name());
        }
        try (Sequential m = Models.importKeras(DIR.resolve("k3_legacy_plain.h5"))) {
            // Adam with weight_decay is Keras's decoupled decay = AdamW; global_clipnorm = Dense4J's clip norm
            assertEquals(0.01f, (float) m.optimizer().get("weight_decay"));
            assertEquals(1.0f, m.optimizer().clipNorm());
        }
        try (Sequential m = Models.importKeras(DIR.resolve("k3_names_differ.keras"))) {
            assertEquals(0.9f, (float) m.optimizer().get("alpha")); // "rmsprop" by name: Keras's defaults
            assertEquals(List.of("accuracy", "top_2_accuracy"), m.metrics().stream().map(x -> x.name()).toList());
            assertEquals(Map.of("type", "scale", "scale", (float) (1 / 255.0)), m.preprocessing().config());
        }
        try (Sequential m = Models.importKeras(DIR.resolve("k3_functional_normalization.keras"))) {
            assertEquals(new LearningRateSchedule.Exponential(0.01, 100, 0.5, true), m.optimizer().schedule());
            assertEquals(0.004f, (float) m.optimizer().get("weight_decay"));
            assertEquals("standardize", m.preprocessing().config().get("type"));
        }
        try (Sequential m = Models.importKeras(DIR.resolve("k2_functional_chain.h5"))) {
            @SuppressWarnings("unchecked")
            List<String> notes = (List<String>) ((Map<String, Object>) m.trainingInfo().get("imported")).get("notes");
            assertTrue(notes.stream().anyMatch(n -> n.contains("use_bias=False")), notes.toString());
            assertEquals(0.8f, (float) m.optimizer().get("alpha"));
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "bad_missing_weights.keras | layer 'dense' (Dense) are missing",
        "bad_wrong_shape.keras     | the kernel of layer 'dense' (Dense) has shape [3, 3], expected [4, 3]",
        "bad_huge_shape.keras      | declares [4, 200000000]",
        "bad_conv.h5               | layer 'conv2d' (Conv2D) is not supported",
        "bad_branches.h5           | branches",
        "bad_custom_layer.keras    | layer 'dense' (Dense) is a custom object",
        "bad_activation.keras      | activation 'elu'",
        "bad_weights_only.h5       | weights-only",
        "bad_quantized.keras       | layer 'dense' (Dense) is quantized (int8)",
        "k3_bfloat16.keras         | the weights of layer 'dense' (Dense) (model.weights.h5 layers/dense/vars) cannot be read",
    })
    void refusesWhatItCannotRepresentWithOneClearMessage(String fixture, String message) {
        Path file = DIR.resolve(fixture);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Models.importKeras(file));
        assertTrue(e.getMessage().startsWith(file.toString()), "names the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(message), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"k2_vlen.h5", "k3_names_differ.keras", "k3_legacy_nested.h5"})
    void truncatedFilesFailCleanly(String fixture, @TempDir Path tmp) throws IOException {
        byte[] all = Files.readAllBytes(DIR.resolve(fixture));
        for (double frac : new double[] {0.0, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99}) {
            Path cut = tmp.resolve("cut-" + frac + "-" + fixture);
            Files.write(cut, java.util.Arrays.copyOf(all, (int) (all.length * frac)));
            try (Sequential m = Models.importKeras(cut)) {
                fail("a " + frac + " truncation of " + fixture + " imported");
            } catch (ModelFormatException expected) {
                assertTrue(expected.getMessage().contains(cut.toString()), expected.getMessage());
            }
        }
    }

    /** A file cut inside the superblock says so, not jHDF's "Couldn't read 0 bytes as int". */
    @Test
    void aFileCutInsideItsSuperblockSaysItIsTruncated(@TempDir Path tmp) throws IOException {
        Path cut = tmp.resolve("cut.h5");
        Files.write(cut, java.util.Arrays.copyOf(Files.readAllBytes(DIR.resolve("k2_vlen.h5")), 12));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Models.importKeras(cut));
        assertTrue(e.getMessage().startsWith(cut + ": truncated or corrupt HDF5 file: its superblock cannot be read ("),
                e.getMessage());
    }

    /** Random byte corruption either still reads as a valid model or fails with ModelFormatException, never otherwise. */
    @ParameterizedTest
    @ValueSource(strings = {"k2_vlen.h5", "k3_names_differ.keras"})
    void corruptBytesNeverEscapeAsOtherErrors(String fixture, @TempDir Path tmp) throws IOException {
        byte[] all = Files.readAllBytes(DIR.resolve(fixture));
        SplittableRandom rng = new SplittableRandom(7);
        int failures = 0;
        for (int trial = 0; trial < 60; trial++) {
            byte[] b = all.clone();
            for (int k = 0; k < 4; k++) {
                b[rng.nextInt(b.length)] ^= (byte) (1 + rng.nextInt(255));
            }
            Path f = tmp.resolve("corrupt-" + trial);
            Files.write(f, b);
            try (Sequential m = Models.importKeras(f)) {
                m.predict(new float[m.inputSize()]);
            } catch (ModelFormatException e) {
                failures++;
            }
        }
        assertTrue(failures > 0, "some corruption must be detected");
    }

    @Test
    void notKerasAtAll(@TempDir Path tmp) throws IOException {
        Path f = tmp.resolve("model.h5");
        Files.writeString(f, "hello");
        assertTrue(ModelFormat.named("keras").recognizes(f) == false);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Models.importKeras(f));
        assertTrue(e.getMessage().contains("not a Keras model"), e.getMessage());
        assertThrows(ModelFormatException.class, () -> Models.importKeras(tmp.resolve("absent.keras")));
    }

    // ------------------------------------------------------------------ configs rewritten: hostile and unusual ones

    /**
     * k3_names_differ.keras (InputLayer [8], Rescaling, Dense 5 sigmoid, Dense 3 softmax) with its config's input
     * shape and its second layer (the Rescaling, which has no weights) replaced; the weights stay as saved.
     */
    static Path rewritten(Path dir, String name, String batchShape, String secondLayer) throws IOException {
        Path src = DIR.resolve("k3_names_differ.keras");
        com.fasterxml.jackson.databind.node.ObjectNode config;
        byte[] metadata;
        byte[] weights;
        try (java.util.zip.ZipFile z = new java.util.zip.ZipFile(src.toFile())) {
            config = (com.fasterxml.jackson.databind.node.ObjectNode) JSON.readTree(
                    z.getInputStream(z.getEntry("config.json")));
            metadata = z.getInputStream(z.getEntry("metadata.json")).readAllBytes();
            weights = z.getInputStream(z.getEntry("model.weights.h5")).readAllBytes();
        }
        var layers = (com.fasterxml.jackson.databind.node.ArrayNode) config.get("config").get("layers");
        ((com.fasterxml.jackson.databind.node.ObjectNode) layers.get(0).get("config"))
                .set("batch_shape", JSON.readTree(batchShape));
        layers.set(1, JSON.readTree(secondLayer));
        Path out = dir.resolve(name);
        try (var zip = new java.util.zip.ZipOutputStream(Files.newOutputStream(out))) {
            entry(zip, "config.json", JSON.writeValueAsBytes(config));
            entry(zip, "metadata.json", metadata);
            entry(zip, "model.weights.h5", weights);
        }
        return out;
    }

    static void entry(java.util.zip.ZipOutputStream zip, String name, byte[] b) throws IOException {
        var e = new java.util.zip.ZipEntry(name);
        e.setMethod(java.util.zip.ZipEntry.STORED);
        var crc = new java.util.zip.CRC32();
        crc.update(b);
        e.setSize(b.length);
        e.setCompressedSize(b.length);
        e.setCrc(crc.getValue());
        zip.putNextEntry(e);
        zip.write(b);
        zip.closeEntry();
    }

    static String layer(String className, String config) {
        return "{\"module\": \"keras.layers\", \"class_name\": \"" + className + "\", \"registered_name\": null, "
                + "\"config\": " + config + "}";
    }

    static final String FLATTEN = layer("Flatten", "{\"name\": \"flatten\", \"data_format\": \"channels_last\"}");

    /** The same model on [8] inputs without the Rescaling: what the rewritten ones are compared with. */
    static Sequential plain(Path dir) throws IOException {
        return Models.importKeras(rewritten(dir, "plain.keras", "[null, 8]", FLATTEN));
    }

    static float[] randomRow(SplittableRandom rng) {
        float[] x = new float[8];
        for (int i = 0; i < 8; i++) {
            x[i] = (float) (rng.nextDouble() * 4 - 2);
        }
        return x;
    }

    /**
     * Flatten(data_format="channels_first") on [2, 4] inputs: Keras moves the channel axis last before flattening, so
     * its Dense sees input (c, s) at s * 2 + c. The import permutes the kernel's rows so that Dense4J's row-major
     * input gives the same outputs as the plain model on the permuted input.
     */
    @Test
    void flattenChannelsFirstPermutesTheKernelRows(@TempDir Path tmp) throws IOException {
        Path f = rewritten(tmp, "cf.keras", "[null, 2, 4]",
                layer("Flatten", "{\"name\": \"flatten\", \"data_format\": \"channels_first\"}"));
        SplittableRandom rng = new SplittableRandom(3);
        try (Sequential cf = Models.importKeras(f); Sequential plain = plain(tmp)) {
            assertEquals(8, cf.inputSize());
            for (int trial = 0; trial < 5; trial++) {
                float[] x = randomRow(rng);
                float[] keras = new float[8];
                for (int c = 0; c < 2; c++) {
                    for (int s = 0; s < 4; s++) {
                        keras[s * 2 + c] = x[c * 4 + s];
                    }
                }
                float[] want = plain.predict(keras);
                float[] got = cf.predict(x);
                assertArrayEquals(want, got, 1e-6f);
                // and it is a real permutation: the unpermuted input gives other outputs
                float[] other = plain.predict(x);
                assertTrue(Math.abs(other[0] - got[0]) + Math.abs(other[1] - got[1]) > 1e-4, "permutation applied");
            }
        }
    }

    /** A scalar Normalization mean and variance apply to every feature: (x - mean) / sqrt(variance). */
    @Test
    void scalarNormalizationStatisticsApplyToEveryFeature(@TempDir Path tmp) throws IOException {
        Path f = rewritten(tmp, "norm.keras", "[null, 8]", layer("Normalization",
                "{\"name\": \"normalization\", \"axis\": -1, \"mean\": 0.5, \"variance\": 4.0, \"invert\": false}"));
        SplittableRandom rng = new SplittableRandom(5);
        try (Sequential norm = Models.importKeras(f); Sequential plain = plain(tmp)) {
            for (int trial = 0; trial < 5; trial++) {
                float[] x = randomRow(rng);
                float[] normalized = new float[8];
                for (int i = 0; i < 8; i++) {
                    normalized[i] = (float) ((x[i] - 0.5) / 2.0);
                }
                assertArrayEquals(plain.predict(normalized), norm.predict(x), 1e-6f);
            }
        }
    }

    /**
     * Sizes that only a config states are never allocated before the weights' stored bytes confirm them: these
     * configs claim ~2^31 inputs (8-24 GB of tables at the Flatten or the Normalization) for 8 stored kernel rows,
     * and fail on the kernel's shape (before, they failed out of memory, taking the server's other requests too).
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "Flatten channels_first | [null, 46340, 46340] | Flatten | {\"name\": \"flatten\", \"data_format\": \"channels_first\"}",
        "scalar Normalization   | [null, 2000000000]   | Normalization | {\"name\": \"n\", \"axis\": -1, \"mean\": 0.0, \"variance\": 1.0}",
    })
    void configSizesWaitForTheBytes(String what, String shape, String cls, String config, @TempDir Path tmp)
            throws IOException {
        Path f = rewritten(tmp, "bomb.keras", shape, layer(cls, config));
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Models.importKeras(f));
        assertTrue(e.getMessage().contains("the kernel of layer 'dense_7' (Dense) has shape [8, 5]"), e.getMessage());
    }

    /**
     * A deflated model.weights.h5 is extracted to a temporary file: one claiming ~47 times its packed size (Keras
     * stores it uncompressed; float weights deflate to ~90%) is refused before a byte is written.
     */
    @Test
    void deflatedWeightsClaimingTooMuchAreRefused(@TempDir Path tmp) throws IOException {
        byte[] bomb = new byte[8 << 20];
        SplittableRandom rng = new SplittableRandom(9);
        for (int at = 0; at < bomb.length; at += 1024) {
            for (int i = 0; i < 16; i++) {
                bomb[at + i] = (byte) rng.nextInt(256);
            }
        }
        byte[] weights = Files.readAllBytes(DIR.resolve("k3_legacy_plain.h5")); // a valid HDF5 head
        System.arraycopy(weights, 0, bomb, 0, weights.length);
        Path f = tmp.resolve("bomb.keras");
        long packed;
        try (var zip = new java.util.zip.ZipOutputStream(Files.newOutputStream(f))) {
            try (java.util.zip.ZipFile z = new java.util.zip.ZipFile(DIR.resolve("k3_names_differ.keras").toFile())) {
                entry(zip, "config.json", z.getInputStream(z.getEntry("config.json")).readAllBytes());
            }
            zip.putNextEntry(new java.util.zip.ZipEntry("model.weights.h5"));
            zip.write(bomb);
            zip.closeEntry();
        }
        try (java.util.zip.ZipFile z = new java.util.zip.ZipFile(f.toFile())) {
            packed = z.getEntry("model.weights.h5").getCompressedSize();
        }
        double ratio = (double) bomb.length / packed;
        assertTrue(ratio > KerasFile.MAX_WEIGHTS_EXPANSION && ratio < 100, "the fixture's ratio: " + ratio);
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> Models.importKeras(f));
        assertTrue(e.getMessage().contains("model.weights.h5 declares " + bomb.length + " bytes from " + packed),
                e.getMessage());
    }
}
