package io.dense4j.cli;

import static org.junit.jupiter.api.Assertions.*;

import io.dense4j.Sequential;
import io.dense4j.layers.Dense;
import io.dense4j.layers.Dropout;
import io.dense4j.optim.LearningRateSchedule;
import io.dense4j.optim.RmsProp;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@code dense4j train --config}: any model the API can build, from the JSON config that .d4j files store. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TrainConfigTest {
    @TempDir
    Path tmp;

    /** Runs the command line; returns {exit code, stdout, stderr}. */
    static Object[] run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream so = System.out;
        PrintStream se = System.err;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int code = Main.run(args);
            return new Object[] {code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8)};
        } finally {
            System.setOut(so);
            System.setErr(se);
        }
    }

    Path csv() throws Exception {
        StringBuilder b = new StringBuilder("a,b,c,d,label\n");
        Random r = new Random(3);
        for (int i = 0; i < 240; i++) {
            int y = i % 3;
            for (int j = 0; j < 4; j++) {
                b.append(String.format(Locale.ROOT, "%.4f,", 10 + y * 2 + r.nextGaussian() * 0.5));
            }
            b.append(y).append('\n');
        }
        Path f = tmp.resolve("blobs.csv");
        Files.writeString(f, b.toString());
        return f;
    }

    static final String CONFIG = """
            {
              "model": {
                "class_name": "Sequential",
                "config_version": 2,
                "layers": [
                  {"type": "dense", "units": 12, "activation": "gelu", "kernel_initializer": "he_uniform"},
                  {"type": "dropout", "rate": 0.1},
                  {"type": "dense", "units": 3, "activation": "softmax"}
                ],
                "preprocessing": {"type": "standardize"},
                "compile_config": {
                  "optimizer": {"type": "rmsprop", "learning_rate": {"type": "exponential_decay",
                                "initial_learning_rate": 0.01, "decay_steps": 20, "decay_rate": 0.9},
                                "centered": true, "global_clipnorm": 2.0},
                  "loss": "sparse_categorical_crossentropy",
                  "metrics": ["accuracy", "top_2_accuracy"]
                }
              },
              "fit": {"epochs": 4, "batch_size": 16, "validation_split": 0.25, "seed": 7,
                      "callbacks": [{"type": "early_stopping", "patience": 10, "restore_best_weights": true}]}
            }
            """;

    @Test
    void trainsTheModelAConfigDescribes() throws Exception {
        Path config = tmp.resolve("job.json");
        Files.writeString(config, CONFIG);
        Path out = tmp.resolve("m.d4j");
        Object[] r = run("train", "--data", csv().toString(), "--config", config.toString(), "--no-progress",
                "--epochs", "3", "-o", out.toString());
        assertEquals(0, r[0], r[1] + " " + r[2]);
        assertTrue(((String) r[1]).contains("epoch 3/3"), "--epochs overrides the config's fit: " + r[1]);
        try (Sequential m = Sequential.load(out)) {
            assertEquals(4, m.inputSize(), "the first layer's width comes from the data");
            assertEquals(3, m.layers().size());
            assertEquals(12, ((Dense) m.layers().get(0)).units());
            assertEquals(0.1, ((Dropout) m.layers().get(1)).rate());
            RmsProp opt = assertInstanceOf(RmsProp.class, m.optimizer());
            assertTrue(opt.centered());
            assertEquals(2.0, opt.clipNorm());
            assertEquals(new LearningRateSchedule.Exponential(0.01, 20, 0.9, false), opt.schedule());
            assertEquals(2, m.metrics().size());
            assertTrue(m.preprocessing().isFitted(), "the config's normalizer was fitted and saved");
            assertEquals(16, ((Number) m.trainingInfo().get("batch_size")).intValue(), "the config's batch size");
            assertEquals(7, ((Number) m.trainingInfo().get("seed")).intValue());
        }
    }

    @Test
    void aBareModelConfigAndItsErrors() throws Exception {
        Path data = csv();
        // a saved model's config is a valid --config
        Path config = tmp.resolve("model.json");
        Files.writeString(config, """
                {"class_name": "Sequential", "config_version": 2,
                 "layers": [{"type": "dense", "units": 3, "activation": "softmax", "input_dim": 4}],
                 "compile_config": {"optimizer": {"type": "sgd", "learning_rate": 0.1, "momentum": 0.9},
                                    "loss": "sparse_categorical_crossentropy"}}
                """);
        Object[] r = run("train", "--data", data.toString(), "--config", config.toString(), "--no-progress",
                "--epochs", "2", "-o", tmp.resolve("bare.d4j").toString());
        assertEquals(0, r[0], r[1] + " " + r[2]);
        try (Sequential m = Sequential.load(tmp.resolve("bare.d4j")); Sequential again = Sequential.fromConfig(m.config())) {
            assertEquals(m.config().toJson(), again.config().toJson());
        }

        r = run("train", "--data", data.toString(), "--config", config.toString(), "--layers", "8,3", "-o",
                tmp.resolve("x.d4j").toString());
        assertEquals(1, r[0]);
        assertTrue(((String) r[2]).contains("--layers cannot be combined with --config"), (String) r[2]);

        Files.writeString(config, CONFIG.replace("\"units\": 12", "\"units\": -12"));
        r = run("train", "--data", data.toString(), "--config", config.toString(), "-o", tmp.resolve("x.d4j").toString());
        assertEquals(1, r[0]);
        assertTrue(((String) r[2]).contains("model.layers[0]") && ((String) r[2]).contains("units must be positive"),
                (String) r[2]);

        Files.writeString(config, CONFIG.replace("\"input_dim\"", "\"x\"").replace("\"units\": 12,",
                "\"units\": 12, \"input_dim\": 5,"));
        r = run("train", "--data", data.toString(), "--config", config.toString(), "-o", tmp.resolve("x.d4j").toString());
        assertEquals(1, r[0]);
        assertTrue(((String) r[2]).contains("takes 5 inputs, the data has 4 features"), (String) r[2]);
        assertFalse(Files.exists(tmp.resolve("x.d4j")));
    }
}
