package io.dense4j.interop.keras;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dense4j.Models;
import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import io.dense4j.data.Mnist;
import io.dense4j.interop.SharedData;
import io.dense4j.layers.Activation;
import io.dense4j.optim.Optimizer;
import io.dense4j.train.Evaluation;
import io.dense4j.train.Loss;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Acceptance: the two real files saved by Keras itself (../shared/data/keras: a Keras 2.12 .h5 and a Keras 3.8 .keras,
 * MNIST 784-128-10) import and give Keras's outputs within 1e-5 on MNIST t10k images 0..9, and their accuracy on all of
 * t10k is what Keras measured. Skipped, saying so, where the shared data is absent.
 */
class KerasRealFilesTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @ParameterizedTest
    @ValueSource(strings = {"k2_hotaruk_mnist_128.h5", "k3_payal_mnist_128.keras"})
    void importsRealKerasFilesWithKerasOutputs(String name) throws Exception {
        Path dir = SharedData.dir("keras");
        Path mnist = SharedData.dir("mnist-t10k");
        assumeTrue(dir != null && mnist != null, "skipped: ../shared/data/keras or mnist-t10k is not here");
        Path model = dir.resolve(name);
        String base = name.substring(0, name.lastIndexOf('.'));
        JsonNode expected = JSON.readTree(dir.resolve(base + ".expected.json").toFile());
        try (Sequential m = Models.importKeras(model); Dataset test = Mnist.loadSplit(mnist, Mnist.TEST)) {
            assertArrayEquals(new int[] {784, 128, 10}, m.architecture().sizes());
            assertEquals(Activation.RELU, m.architecture().activations()[0]);
            assertEquals(Activation.SOFTMAX, m.architecture().activations()[1]);
            // compiled from the file's training config: Adam 1e-3 (Keras's epsilon 1e-7), sparse CE, accuracy
            assertEquals(Loss.SPARSE_CATEGORICAL_CROSSENTROPY, m.loss());
            assertEquals("adam", m.optimizer().typeName());
            assertEquals(1e-7f, (float) m.optimizer().get("eps"));
            assertEquals(0.001, m.optimizer().schedule().at(0, 0), 1e-9);
            assertEquals("accuracy", m.metrics().get(0).name());

            float[][] rows = new float[10][];
            for (int i = 0; i < 10; i++) {
                rows[i] = test.features().row(i);
            }
            float[][] p = m.predict(rows);
            double maxDiff = 0;
            for (int i = 0; i < 10; i++) {
                assertEquals(expected.get("labels").get(i).asInt(), test.labels().getInt(i));
                for (int j = 0; j < 10; j++) {
                    double want = expected.get("outputs").get(i).get(j).asDouble();
                    maxDiff = Math.max(maxDiff, Math.abs(p[i][j] - want));
                    assertEquals(want, p[i][j], 1e-5, "image " + i + " class " + j);
                }
            }
            Evaluation e = m.evaluate(test);
            double kerasAccuracy = expected.get("accuracy_all_10000").asDouble();
            System.out.printf("%s: max |Dense4J - Keras| on images 0..9 = %.3g; t10k accuracy %.4f (Keras: %.4f)%n",
                    name, maxDiff, e.accuracy(), kerasAccuracy);
            assertEquals(kerasAccuracy,
                    e.accuracy(), 1e-4);
            @SuppressWarnings("unchecked")
            Map<String, Object> imported = (Map<String, Object>) m.trainingInfo().get("imported");
            assertNotNull(imported);
            assertEquals(expected.get("sha256").asText(), imported.get("source_sha256"));
            assertTrue(String.valueOf(imported.get("format")).contains(name.endsWith(".h5") ? "Keras 2 HDF5" : ".keras"));
            // both files compile Adam: where Dense4J's update differs from Keras's is said (README)
            assertTrue(String.valueOf(imported.get("notes")).contains("epsilon"), String.valueOf(imported.get("notes")));

            // compiled from the file: fit continues training (Adam 1e-3 on 2000 rows) and keeps the model good
            int[] first = java.util.stream.IntStream.range(0, 2000).toArray();
            int[] rest = java.util.stream.IntStream.range(2000, 10000).toArray();
            try (Dataset tune = test.subset(first); Dataset held = test.subset(rest)) {
                double before = m.evaluate(tune).loss();
                var h = m.fit(tune, io.dense4j.train.Fit.epochs(2).batchSize(32).seed(1));
                double after = m.evaluate(tune).loss();
                double heldAcc = m.evaluate(held).accuracy();
                System.out.printf("%s: fit 2 epochs on t10k 0..1999: loss %.4f -> %.4f, held-out accuracy %.4f%n", name,
                        before, after, heldAcc);
                assertTrue(after < before, "training continues: " + before + " -> " + after);
                assertTrue(heldAcc > 0.95, "held-out accuracy " + heldAcc);
                assertEquals(2, h.epochs().size());
            }
        }
    }
}
