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
        "k2_13_checkpoint_deps.keras,  12-4-2,      tanh-softmax,         ,                                ",
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
}
