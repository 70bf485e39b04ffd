package io.dense4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.Model;
import io.dense4j.registry.ModelRegistry;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The spark-submit entry point, run in-process on local[2]: config in, ordinary model file (and registry) out. */
class SparkTrainTest {
    static SparkSession spark;

    static final String CONFIG = """
            {"model": {"class_name": "Sequential", "config_version": 2,
                       "layers": [{"type": "dense", "units": 16, "activation": "relu"},
                                  {"type": "dense", "units": 3, "activation": "softmax"}],
                       "preprocessing": {"type": "standardize"},
                       "compile_config": {"optimizer": {"type": "adam", "learning_rate": 0.003},
                                          "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}},
             "fit": {"epochs": 3, "batch_size": 16, "seed": 5, "validation_split": 0.2}}
            """;

    @BeforeAll
    static void start() {
        spark = LocalSpark.session();
        SparkTrainerTest.start();
    }

    /** Runs the command, capturing what it prints; returns {exit code, stdout + stderr}. */
    static Object[] run(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream capture = new PrintStream(buf, true, StandardCharsets.UTF_8);
        System.setOut(capture);
        System.setErr(capture);
        int code;
        try {
            code = SparkTrain.run(spark, args);
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
        String text = buf.toString(StandardCharsets.UTF_8);
        out.print(text);
        return new Object[] {code, text};
    }

    @Test
    void trainsACsvFileFromItsConfigAndRegistersTheModel(@TempDir Path dir) throws Exception {
        StringBuilder csv = new StringBuilder("id,a,b,c,d,e,f,species\n");
        for (int i = 0; i < SparkTrainerTest.x.size(); i++) {
            csv.append(i);
            for (float v : SparkTrainerTest.x.get(i)) {
                csv.append(',').append(v);
            }
            csv.append(',').append(new String[] {"setosa", "versicolor", "virginica"}[SparkTrainerTest.y.get(i)])
                    .append('\n');
        }
        Path data = Files.writeString(dir.resolve("blobs.csv"), csv);
        Path config = Files.writeString(dir.resolve("model.json"), CONFIG);
        Path out = dir.resolve("blobs.d4j");
        Object[] r = run("--config", config.toString(), "--data", data.toString(), "--label-column", "species",
                "--ignore-columns", "id", "--workers", "2", "-H", "8", "-o", out.toString(),
                "--registry", dir.resolve("registry").toString(), "--model", "blobs", "--alias", "stable");
        String text = (String) r[1];
        assertEquals(0, r[0], text);
        assertTrue(text.contains("data: " + data + " (csv), 6 features"), text);
        assertTrue(text.contains("epoch 3/3 - loss"), text);
        assertTrue(text.contains("val_accuracy"), text);
        assertTrue(text.contains("registered blobs version 1 as stable"), text);
        try (Model m = Model.load(out)) {
            assertEquals(java.util.List.of("setosa", "versicolor", "virginica"), m.classNames());
            float[] p = m.predict(SparkTrainerTest.x.get(0));
            assertEquals(3, p.length);
        }
        ModelRegistry reg = ModelRegistry.open(dir.resolve("registry"));
        assertEquals(1, reg.resolveAlias("blobs", "stable").orElseThrow());
        assertEquals("spark", reg.describe("blobs", 1).source());
    }

    @Test
    void trainsAParquetTableWithOverrides(@TempDir Path dir) throws Exception {
        String table = dir.resolve("blobs.parquet").toString();
        SparkTrainerTest.blobs().withColumnRenamed("label", "y").write().parquet(table);
        Path config = Files.writeString(dir.resolve("model.json"), CONFIG);
        Path out = dir.resolve("blobs.d4j");
        Object[] r = run("--config", config.toString(), "--data", table, "--label-column", "y", "--epochs", "1",
                "--validation-split", "0", "--workers", "2", "-o", out.toString());
        String text = (String) r[1];
        assertEquals(0, r[0], text);
        assertTrue(text.contains("(parquet), 6 features") && text.contains("epoch 1/1 - loss"), text);
        assertTrue(Files.exists(out));
    }

    @Test
    void badConfigsAndDataFailWithOneLine(@TempDir Path dir) throws Exception {
        Path config = Files.writeString(dir.resolve("model.json"), CONFIG.replace("\"units\": 3", "\"units\": 0"));
        Object[] r = run("--config", config.toString(), "--data", dir.toString(), "--format", "csv", "-o",
                dir.resolve("x.d4j").toString());
        assertEquals(1, r[0]);
        assertTrue(((String) r[1]).contains("error: ") && ((String) r[1]).contains("units must be positive, got 0"),
                (String) r[1]);
        Path ok = Files.writeString(dir.resolve("ok.json"), CONFIG);
        Path wide = Files.writeString(dir.resolve("wide.csv"), "a,b,label\n1,2,0\n3,4,1\n5,6,2\n7,8,1\n");
        r = run("--config", ok.toString(), "--data", wide.toString(), "-o", dir.resolve("x.d4j").toString(),
                "--workers", "2");
        assertEquals(0, r[0], (String) r[1]);
        r = run("--config", ok.toString(), "--data", dir.resolve("missing.csv").toString(), "-o",
                dir.resolve("x.d4j").toString());
        assertEquals(1, r[0]);
        assertTrue(((String) r[1]).contains("error: ") && ((String) r[1]).contains("missing.csv"), (String) r[1]);
    }
}
