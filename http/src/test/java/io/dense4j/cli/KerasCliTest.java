package io.dense4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.Model;
import io.dense4j.Models;
import io.dense4j.Sequential;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code dense4j import} and {@code dense4j export} as a user runs them. */
class KerasCliTest {
    static final Path FIXTURES = Path.of("../interop/src/test/resources/keras");
    @TempDir
    Path tmp;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private PrintStream savedOut;
    private PrintStream savedErr;

    @BeforeEach
    void capture() {
        savedOut = System.out;
        savedErr = System.err;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void restore() {
        System.setOut(savedOut);
        System.setErr(savedErr);
    }

    private String run(int code, String... args) {
        out.reset();
        err.reset();
        var cl = Main.commandLine();
        cl.setErr(new java.io.PrintWriter(err, true, StandardCharsets.UTF_8));
        int got = cl.execute(args);
        String text = out.toString(StandardCharsets.UTF_8) + err.toString(StandardCharsets.UTF_8);
        assertEquals(code, got, text);
        return text;
    }

    @Test
    void importThenExportBothFormats() throws Exception {
        Path d4j = tmp.resolve("m.d4j");
        String text = run(0, "import", FIXTURES.resolve("k3_names_differ.keras").toString(), "-o", d4j.toString(),
                "--class-names", "a,b,c");
        assertTrue(text.contains("(Keras 3 .keras, Keras 3.8.0,"), text);
        assertTrue(text.contains("compiled: rmsprop"), text);
        assertTrue(text.contains("saved " + d4j), text);
        Path onnx = tmp.resolve("m.onnx");
        Path keras = tmp.resolve("m.keras");
        assertTrue(run(0, "export", "--model", d4j.toString(), "--format", "onnx", "-o", onnx.toString()).contains("wrote"));
        run(0, "export", "-m", d4j.toString(), "--format", "keras", "-o", keras.toString());
        assertTrue(Files.size(onnx) > 100);
        try (Model a = Model.load(d4j); Sequential b = Models.importKeras(keras)) {
            float[] row = {10, 200, 30, 4, 50, 60, 7, 255};
            assertArrayEquals(a.predict(row), b.predict(row), 0f);
            assertEquals(java.util.List.of("a", "b", "c"), b.classNames());
        }
        String bad = run(2, "export", "-m", d4j.toString(), "--format", "tflite", "-o", tmp.resolve("x").toString());
        assertTrue(bad.contains("tflite"), bad);
        // a file named for another format is refused, and not written (ONNX bytes in y.keras were written before)
        for (String[] c : new String[][] {{"onnx", "y.keras"}, {"keras", "y.onnx"}, {"keras", "y.h5"}}) {
            String named = run(1, "export", "-m", d4j.toString(), "--format", c[0], "-o", tmp.resolve(c[1]).toString());
            assertTrue(named.contains("is named for another format"), named);
            assertTrue(!Files.exists(tmp.resolve(c[1])), c[1]);
        }
    }

    @Test
    void unsupportedModelFailsWithOneLineAndWritesNothing() {
        Path target = tmp.resolve("cnn.d4j");
        String text = run(1, "import", FIXTURES.resolve("bad_conv.h5").toString(), "-o", target.toString());
        assertTrue(text.startsWith("error: "), text);
        assertTrue(text.contains("layer 'conv2d' (Conv2D) is not supported"), text);
        assertEquals(1, text.strip().lines().count(), text);
        assertFalse(Files.exists(target));
        String missing = run(1, "import", tmp.resolve("absent.h5").toString(), "-o", target.toString());
        assertTrue(missing.contains("no such file"), missing);
        assertFalse(Files.exists(target));
    }
}
