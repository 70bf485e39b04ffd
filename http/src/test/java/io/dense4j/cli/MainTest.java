package io.dense4j.cli;

import io.dense4j.http.TestModels;
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
import static org.junit.jupiter.api.Assertions.assertTrue;

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
        Path m1 = TestModels.writeModel(tmp.resolve("a.d4j"), 1);
        Path m2 = TestModels.writeModel(tmp.resolve("b.d4j"), 2);
        assertTrue(run(0, "registry", "register", "--registry", reg, "--model", "iris", m1.toString(),
                "--metric", "accuracy=0.95", "--alias", "stable", "--actor", "alice").contains("version 1"));
        assertTrue(run(0, "registry", "register", "--registry", reg, "--model", "iris", m2.toString()).contains("version 2"));
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
}
