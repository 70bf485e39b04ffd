package io.dense4j.cli;

import io.dense4j.http.TestModels;
import io.dense4j.tensor.Device;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class MainTest {
    @TempDir
    Path tmp;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private PrintStream savedOut;

    @BeforeEach
    void captureOut() {
        savedOut = System.out;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void restoreOut() {
        System.setOut(savedOut);
    }

    private String run(int expectedCode, String... args) {
        out.reset();
        int code = Main.run(args);
        String text = out.toString(StandardCharsets.UTF_8);
        assertEquals(expectedCode, code, text);
        return text;
    }

    @Test
    void registrySubcommands() throws Exception {
        String reg = tmp.resolve("reg").toString();
        // a mistyped registry path is an error, not a new empty registry (only register creates one)
        run(1, "registry", "list", "--registry", reg); // "error: no registry at ..." on stderr
        assertFalse(java.nio.file.Files.exists(Path.of(reg)), "listing created the directory");
        Path m1 = TestModels.writeModel(tmp.resolve("a.d4j"), 1);
        Path m2 = TestModels.writeModel(tmp.resolve("b.d4j"), 2);
        assertTrue(run(0, "registry", "register", "--registry", reg, "--model", "iris", m1.toString(),
                "--metric", "accuracy=0.95", "--alias", "stable", "--actor", "alice").contains("version 1"));
        String second = run(0, "registry", "register", "--registry", reg, "--model", "iris", m2.toString());
        assertTrue(second.contains("version 2") && !second.contains("note:"), "same widths, nothing to say: " + second);
        try (io.dense4j.Sequential wide = io.dense4j.Sequential.of(io.dense4j.layers.Dense.of(5, 3,
                io.dense4j.layers.Activation.SOFTMAX))) {
            Path m3 = tmp.resolve("wide.d4j");
            wide.initialize(3).save(m3);
            String other = run(0, "registry", "register", "--registry", reg + "-widths", "--model", "iris", m1.toString());
            other = run(0, "registry", "register", "--registry", reg + "-widths", "--model", "iris", m3.toString());
            assertTrue(other.contains("note: version 2 takes 5 inputs") && other.contains("version 1 takes 4"), other);
        }
        assertTrue(run(0, "registry", "list", "--registry", reg).contains("iris  versions [1, 2]  aliases {stable=1}"));
        assertTrue(run(0, "registry", "list", "--registry", reg, "iris").contains("stable"));
        assertTrue(run(0, "registry", "describe", "--registry", reg, "iris", "1").contains("\"accuracy\" : 0.95"));
        assertTrue(run(0, "registry", "alias", "--registry", reg, "iris", "stable", "2").contains("stable: 1 -> 2"));
        assertTrue(run(0, "registry", "rollback", "--registry", reg, "iris", "stable").contains("stable -> 1"));
        run(4, "registry", "delete", "--registry", reg, "iris", "1"); // aliased: refused
        run(0, "registry", "delete", "--registry", reg, "iris", "2");
        run(3, "registry", "describe", "--registry", reg, "iris", "2");
        String history = run(0, "registry", "history", "--registry", reg, "iris");
        assertTrue(history.contains("alice  register version 1"), history);
        assertTrue(history.contains("rollback stable -> 1 (was 2)"), history);
        assertTrue(history.contains("delete version 2"), history);
        assertTrue(run(0, "registry", "verify", "--registry", reg).contains("all 1 versions ok"));
        Path f = tmp.resolve("reg/iris/1/model.d4j");
        byte[] b = Files.readAllBytes(f);
        b[b.length - 1] ^= 1;
        Files.write(f, b);
        assertTrue(run(2, "registry", "verify", "--registry", reg, "iris").contains("mismatch"));
    }

    @Test
    void serveRejectsUnknownDevice() {
        assertEquals(1, Main.run("serve", "--registry", tmp.toString(), "--device", "tpu", "--port", "0"));
    }

    @Test
    void serveRefusesBadTrainingOptionsWithAOneLineError() {
        String state = tmp.resolve("state.db").toString();
        java.io.PrintStream savedErr = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            for (String bad : new String[] {"-1", "NaN", "Infinity", "604801", "1e300"}) {
                err.reset();
                assertEquals(1, Main.run("serve", "--registry", tmp.toString(), "--state", state, "--port", "0",
                        "--checkpoint-interval", bad), bad);
                String e = err.toString(StandardCharsets.UTF_8);
                assertTrue(e.startsWith("error: --checkpoint-interval must be 0 (every epoch) to 604800 seconds"), bad + ": " + e);
                assertEquals(1, e.lines().count(), e);
            }
            err.reset();
            assertEquals(2, Main.run("serve", "--registry", tmp.toString(), "--state", state, "--checkpoint-interval", "soon"));
            assertTrue(err.toString(StandardCharsets.UTF_8).contains("soon"), err.toString(StandardCharsets.UTF_8));
            err.reset();
            assertEquals(1, Main.run("serve", "--registry", tmp.toString(), "--checkpoint-interval", "5", "--port", "0"));
            assertTrue(err.toString(StandardCharsets.UTF_8).contains("need --state"), err.toString(StandardCharsets.UTF_8));
            for (String bad : new String[] {"-1", "10001", "9223372036854775807"}) {
                err.reset();
                assertEquals(1, Main.run("serve", "--registry", tmp.toString(), "--state", state, "--port", "0",
                        "--job-yield", bad), bad);
                String e = err.toString(StandardCharsets.UTF_8);
                assertTrue(e.startsWith("error: a job's wait for inference must be 0 (never) to 10000 ms"), bad + ": " + e);
            }
            err.reset();
            assertEquals(2, Main.run("serve", "--registry", tmp.toString(), "--state", state, "--job-yield", "1.5"));
            err.reset();
            assertEquals(2, Main.run("serve", "--registry", tmp.toString(), "--state", state, "--job-nice", "lowest"));
            assertTrue(err.toString(StandardCharsets.UTF_8).contains("neither a nice value (0-19) nor idle"),
                    err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setErr(savedErr);
        }
    }

    /** A 3-class CSV of 150 rows and 4 features (iris-like blobs), label in the last column. */
    private Path smallCsv() throws Exception {
        StringBuilder b = new StringBuilder("a,b,c,d,label\n");
        java.util.Random r = new java.util.Random(1);
        for (int i = 0; i < 150; i++) {
            int y = i % 3;
            for (int j = 0; j < 4; j++) {
                b.append(String.format(java.util.Locale.ROOT, "%.4f,", y * 2 + r.nextGaussian() * 0.5));
            }
            b.append(y).append('\n');
        }
        Path f = tmp.resolve("small.csv");
        Files.writeString(f, b.toString());
        return f;
    }

    /** Runs with System.err captured; returns {exit code, stderr}. */
    private Object[] runErr(String... args) {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream saved = System.err;
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int code = Main.run(args);
            return new Object[] {code, err.toString(StandardCharsets.UTF_8)};
        } finally {
            System.setErr(saved);
        }
    }

    @Test
    void registerOfAModelFileDeclaringHugeLayersIsOneErrorLine() throws Exception {
        Path good = TestModels.writeModel(tmp.resolve("good.d4j"), 1);
        java.util.LinkedHashMap<String, io.dense4j.tensor.Tensor> tensors;
        java.util.Map<String, String> meta;
        try (io.dense4j.io.SafeTensors.File st = io.dense4j.io.SafeTensors.read(good)) {
            tensors = st.tensors();
            meta = new java.util.LinkedHashMap<>(st.metadata());
        }
        var config = (com.fasterxml.jackson.databind.node.ObjectNode) RegistryCommand.JSON.readTree(meta.get("config"));
        ((com.fasterxml.jackson.databind.node.ObjectNode) config.get("layers").get(0)).put("units", 2_000_000);
        meta.put("config", config.toString());
        Path bomb = tmp.resolve("bomb.d4j");
        try {
            io.dense4j.io.SafeTensors.write(bomb, tensors, meta);
        } finally {
            tensors.values().forEach(io.dense4j.tensor.Tensor::close);
        }
        Object[] r = runErr("registry", "register", "--registry", tmp.resolve("reg").toString(), "--model", "m",
                bomb.toString());
        String err = (String) r[1];
        assertEquals(1, r[0], err);
        assertEquals(1, err.strip().lines().count(), err);
        assertTrue(err.startsWith("error: " + bomb + ": not a valid model file:") && err.contains("invalid model config"), err);
        assertTrue(!err.contains(".staging"), err);
    }

    @Test
    void registryTrafficSplitFromTheCommandLine() {
        String reg = tmp.resolve("reg").toString();
        run(0, "registry", "register", "--registry", reg, "--model", "iris", TestModels.writeModel(tmp.resolve("a.d4j"), 1).toString());
        run(0, "registry", "register", "--registry", reg, "--model", "iris", TestModels.writeModel(tmp.resolve("b.d4j"), 2).toString());
        assertTrue(run(0, "registry", "traffic", "--registry", reg, "iris", "--baseline", "1", "--canary", "2", "--percent", "10")
                .contains("10% -> 2"));
        assertTrue(run(0, "registry", "list", "--registry", reg).contains("traffic 10% 2 / 1"));
        run(4, "registry", "delete", "--registry", reg, "iris", "2"); // used by the split
        run(1, "registry", "traffic", "--registry", reg, "iris", "--baseline", "1", "--canary", "2", "--percent", "101");
        run(0, "registry", "traffic", "--registry", reg, "iris", "--clear");
        assertTrue(run(0, "registry", "history", "--registry", reg, "iris").contains("traffic cleared (was "));
        run(0, "registry", "delete", "--registry", reg, "iris", "2");
    }

    private static boolean gpuPresent() {
        return Device.available().size() > 1;
    }

    @Test
    void cudaDeviceWithoutGpuIsOneClearErrorLine() throws Exception {
        assumeTrue(!gpuPresent(), "a CUDA GPU is present");
        Path csv = smallCsv();
        Path model = TestModels.writeModel(tmp.resolve("m.d4j"), 1);
        String[][] commands = {
            {"train", "--data", csv.toString(), "--layers", "3", "--activations", "softmax", "--epochs", "1",
                "--device", "cuda", "-o", tmp.resolve("out.d4j").toString()},
            {"evaluate", "-m", model.toString(), "--data", csv.toString(), "--device", "cuda:0"},
            {"predict", "-m", model.toString(), "--values", "1,2,3,4", "--device", "cuda:1"},
            {"serve", "--registry", tmp.resolve("reg").toString(), "--port", "0", "--device", "cuda"},
        };
        for (String[] c : commands) {
            Object[] r = runErr(c);
            String err = (String) r[1];
            assertEquals(1, r[0], c[0] + ": " + err);
            String[] lines = err.strip().split("\n");
            assertEquals(1, lines.length, c[0] + " printed more than one line: " + err);
            assertTrue(lines[0].startsWith("error: CUDA device cuda:"), lines[0]);
            assertTrue(lines[0].contains("is not available: "), lines[0]);
        }
        assertTrue(Files.notExists(tmp.resolve("out.d4j")));
    }

    @Test
    void csvWithNamedLabelIgnoredColumnsPlotAndRequestFile() throws Exception {
        StringBuilder b = new StringBuilder("id,species,x1,x2\n");
        java.util.Random r = new java.util.Random(2);
        String[] names = {"small", "large"};
        for (int i = 0; i < 120; i++) {
            int y = i % 2;
            b.append(i).append(",\"").append(names[y]).append("\",")
                    .append(String.format(java.util.Locale.ROOT, "%.3f,%.3f%n", y * 3 + r.nextGaussian(), -y * 2 + r.nextGaussian()));
        }
        Path csv = tmp.resolve("named.csv");
        Files.writeString(csv, b.toString());
        Path out = tmp.resolve("named.d4j");
        Path png = tmp.resolve("curves.png");
        run(0, "train", "--data", csv.toString(), "--label-column", "species", "--ignore-columns", "id",
                "--layers", "8,2", "--activations", "tanh,softmax", "--epochs", "5", "--validation-split", "0.25",
                "--normalize", "standardize", "--no-progress", "--plot", png.toString(), "-o", out.toString());
        try (io.dense4j.Model m = io.dense4j.Model.load(out)) {
            assertEquals(2, m.inputSize(), "id and the label are not features");
            assertEquals(java.util.List.of("large", "small"), m.classNames());
        }
        assertTrue(Files.size(png) > 1000, "a PNG was written");
        Path req = tmp.resolve("req.json");
        run(0, "predict", "-m", out.toString(), "--data", csv.toString(), "--label-column", "species",
                "--ignore-columns", "id", "--rows", "0-1", "--write-request", req.toString());
        String body = Files.readString(req);
        assertTrue(body.contains("\"shape\":[2,2]") && body.contains("\"datatype\":\"FP32\""), body);
    }

    @Test
    void trainEvaluatePredictOnCpuDevice() throws Exception {
        Path csv = smallCsv();
        Path out = tmp.resolve("cpu.d4j");
        run(0, "train", "--data", csv.toString(), "--layers", "8,3", "--activations", "relu,softmax", "--epochs", "3",
                "--device", "cpu", "--no-progress", "-o", out.toString());
        assertTrue(run(0, "evaluate", "-m", out.toString(), "--data", csv.toString(), "--device", "cpu")
                .contains("accuracy"));
        String p = run(0, "predict", "-m", out.toString(), "--values", "0,0,0,0", "--device", "cpu", "--repeat", "50");
        assertTrue(p.contains("row 0") && p.contains("latency: mean"), p);
    }

    @Test
    void trainOnGpuSavesAFileTheCpuLoads() throws Exception {
        assumeTrue(gpuPresent(), "skipped, no GPU");
        Path csv = smallCsv();
        Path out = tmp.resolve("gpu.d4j");
        String text = run(0, "train", "--data", csv.toString(), "--layers", "8,3", "--activations", "relu,softmax",
                "--epochs", "3", "--device", "cuda", "--no-progress", "-o", out.toString());
        assertTrue(text.contains("device: cuda:0"), text);
        assertTrue(run(0, "evaluate", "-m", out.toString(), "--data", csv.toString()).contains("accuracy"));
        assertTrue(run(0, "predict", "-m", out.toString(), "--values", "0,0,0,0", "--device", "cuda").contains("row 0"));
    }
}
