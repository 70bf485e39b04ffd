package io.dense4j.interop.keras;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dense4j.Models;
import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import io.dense4j.data.Normalizer;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.layers.Dropout;
import io.dense4j.optim.LearningRateSchedule;
import io.dense4j.optim.Optimizers;
import io.dense4j.train.Fit;
import io.dense4j.train.Loss;
import io.dense4j.train.Metric;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Keras 3 .keras export: Keras's saving_lib layout (checked with h5py) and a bit-identical round trip. */
class KerasExportTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    static float[][] rows(int n, int d, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[][] x = new float[n][d];
        for (float[] row : x) {
            for (int j = 0; j < d; j++) {
                row[j] = (float) (r.nextDouble() * 4 - 1);
            }
        }
        return x;
    }

    /** A trained model with every kind of part the exporter writes. */
    static Sequential trained(Normalizer norm, Activation out, Loss loss) {
        Sequential m = Sequential.of(Dense.of(31, 33, Activation.GELU), Dropout.of(0.2), Dense.of(17, Activation.TANH),
                Dense.of(5, out));
        m.compile(Optimizers.adam(3e-3).withSchedule(new LearningRateSchedule.Cosine(3e-3, 500, 0.1)).withClipNorm(2),
                loss, Metric.accuracy(), Metric.topK(2));
        if (norm != null) {
            m.preprocessing(norm);
        }
        float[][] x = rows(64, 31, 1);
        int[] y = new int[64];
        for (int i = 0; i < y.length; i++) {
            y[i] = Math.floorMod((int) (x[i][0] * 3 + x[i][3] * 2), 5);
        }
        try (Dataset d = Dataset.of(x, y)) {
            m.fit(d, Fit.epochs(2).batchSize(16).seed(3));
        }
        m.classNames(List.of("a", "b", "c", "d", "e"));
        return m;
    }

    @Test
    void roundTripIsBitIdentical(@TempDir Path tmp) {
        for (Normalizer norm : new Normalizer[] {null, Normalizer.scale(0.25f), Normalizer.standardize(), Normalizer.minMax()}) {
            for (Activation out : new Activation[] {Activation.SOFTMAX, Activation.LINEAR}) {
                try (Sequential m = trained(norm, out, Loss.SPARSE_CATEGORICAL_CROSSENTROPY)) {
                    Path f = tmp.resolve("m.keras");
                    m.exportKeras(f);
                    try (Sequential back = Models.importKeras(f)) {
                        String what = norm + " / " + out;
                        assertArrayEquals(m.parameters(), back.parameters(), what);
                        assertArrayEquals(m.architecture().sizes(), back.architecture().sizes());
                        assertArrayEquals(m.architecture().activations(), back.architecture().activations());
                        assertArrayEquals(m.architecture().dropout(), back.architecture().dropout());
                        float[][] x = rows(9, 31, 2);
                        float[][] p = m.predict(x);
                        float[][] q = back.predict(x);
                        for (int i = 0; i < x.length; i++) {
                            assertArrayEquals(p[i], q[i], 0f, what + " row " + i); // bit-identical
                        }
                        assertEquals(m.loss(), back.loss(), what);
                        assertEquals(m.optimizer().typeName(), back.optimizer().typeName());
                        assertEquals(m.optimizer(), back.optimizer(), "every typed setting survives the round trip");
                        assertEquals(m.optimizer().schedule(), back.optimizer().schedule());
                        assertEquals(m.optimizer().clipNorm(), back.optimizer().clipNorm());
                        assertEquals(m.metrics(), back.metrics());
                        assertEquals(m.classNames(), back.classNames());
                    }
                }
            }
        }
    }

    @Test
    void archiveIsLaidOutAsKerasWritesIt(@TempDir Path tmp) throws Exception {
        Path f = tmp.resolve("m.keras");
        try (Sequential m = trained(Normalizer.scale(0.5f), Activation.LINEAR, Loss.SPARSE_CATEGORICAL_CROSSENTROPY)) {
            m.exportKeras(f);
        }
        try (ZipFile z = new ZipFile(f.toFile())) {
            List<String> names = new ArrayList<>();
            z.stream().forEach(e -> {
                names.add(e.getName());
                assertEquals(ZipEntry.STORED, e.getMethod(), e.getName() + " stored, as zipfile writes it");
            });
            assertEquals(List.of("metadata.json", "config.json", "model.weights.h5"), names);
            JsonNode meta = JSON.readTree(z.getInputStream(z.getEntry("metadata.json")));
            assertTrue(meta.get("keras_version").asText().startsWith("3."));
            assertTrue(meta.get("date_saved").asText().matches("\\d{4}-\\d\\d-\\d\\d@\\d\\d:\\d\\d:\\d\\d"));
            JsonNode c = JSON.readTree(z.getInputStream(z.getEntry("config.json")));
            assertEquals("keras", c.get("module").asText());
            assertEquals("Sequential", c.get("class_name").asText());
            assertTrue(c.has("registered_name") && c.has("build_config") && c.has("compile_config"));
            List<String> classes = new ArrayList<>();
            c.at("/config/layers").forEach(l -> {
                classes.add(l.get("class_name").asText());
                assertEquals("keras.layers", l.get("module").asText());
                assertTrue(l.has("registered_name"));
            });
            assertEquals(List.of("InputLayer", "Rescaling", "Dense", "Dropout", "Dense", "Dense"), classes);
            assertEquals("[null,31]", c.at("/config/layers/0/config/batch_shape").toString());
            assertEquals("SparseCategoricalCrossentropy", c.at("/compile_config/loss/class_name").asText());
            assertTrue(c.at("/compile_config/loss/config/from_logits").asBoolean(), "linear output = logits");
            assertEquals("CosineDecay", c.at("/compile_config/optimizer/config/learning_rate/class_name").asText());
        }
        // the weights file as h5py (HDF5's own library, which Keras uses) reads it
        String py = python();
        assumeTrue(py != null, "skipped: no python3 with h5py (Debian: apt-get install python3-h5py)");
        Path script = tmp.resolve("dump.py");
        Files.writeString(script, """
                import sys, zipfile, io, h5py
                z = zipfile.ZipFile(sys.argv[1])
                f = h5py.File(io.BytesIO(z.read("model.weights.h5")), "r")
                print("root-attrs", sorted(f.attrs.keys()))
                def show(name, obj):
                    kind = "D" if isinstance(obj, h5py.Dataset) else "G"
                    extra = (obj.dtype.str + str(obj.shape)) if kind == "D" else ""
                    attrs = {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in obj.attrs.items()}
                    print(kind, name, extra, attrs)
                f.visititems(show)
                """);
        Process p = new ProcessBuilder(py, script.toString(), f.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, out);
        String expected = """
                root-attrs []
                G layers  {}
                G layers/dense  {}
                G layers/dense/vars  {'name': 'dense'}
                D layers/dense/vars/0 <f4(31, 33) {}
                D layers/dense/vars/1 <f4(33,) {}
                G layers/dense_1  {}
                G layers/dense_1/vars  {'name': 'dense_1'}
                D layers/dense_1/vars/0 <f4(33, 17) {}
                D layers/dense_1/vars/1 <f4(17,) {}
                G layers/dense_2  {}
                G layers/dense_2/vars  {'name': 'dense_2'}
                D layers/dense_2/vars/0 <f4(17, 5) {}
                D layers/dense_2/vars/1 <f4(5,) {}
                """;
        assertEquals(expected, out);
    }

    /** A python3 that has h5py (Debian's /usr/bin/python3 with python3-h5py, or the first on the PATH), or null. */
    static String python() {
        for (String py : new String[] {"python3", "/usr/bin/python3"}) {
            try {
                Process p = new ProcessBuilder(py, "-c", "import h5py").redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                if (p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0) {
                    return py;
                }
            } catch (IOException | InterruptedException e) {
                // try the next one
            }
        }
        return null;
    }

    }
