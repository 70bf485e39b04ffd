package io.dense4j.registry;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ModelRegistryTest {

    @TempDir
    Path tmp;

    private Path model(long seed) {
        return TestModels.writeModel(tmp.resolve("m" + seed + ".d4j"), seed);
    }

    @Test
    void registerListDescribe() throws Exception {
        ModelRegistry reg = ModelRegistry.open(tmp.resolve("reg"));
        Path file = model(1);
        ModelVersionInfo v1 = reg.register("mnist", file, RegisterOptions.defaults().source("unit test")
                .actor("alice").metric("accuracy", 0.97));
        ModelVersionInfo v2 = reg.register("mnist", model(2), RegisterOptions.defaults());
        assertEquals(1, v1.version());
        assertEquals(2, v2.version());
        assertEquals(List.of("mnist"), reg.models());
        assertEquals(List.of(1, 2), reg.versionNumbers("mnist"));
        ModelVersionInfo d = reg.describe("mnist", 1);
        assertEquals("unit test", d.source());
        assertEquals("alice", d.actor());
        assertEquals(Map.of("accuracy", 0.97), d.metrics());
        assertEquals(4, d.inputSize());
        assertEquals(3, d.outputSize());
        assertEquals(List.of("a", "b", "c"), d.classNames());
        assertEquals(sha256(file), d.sha256());
        assertEquals(Files.size(file), d.sizeBytes());
        assertTrue(Files.exists(reg.modelFile("mnist", 1)));
        assertEquals(2, reg.latestVersion("mnist").orElseThrow());
        RegistryException nf = assertThrows(RegistryException.class, () -> reg.describe("mnist", 7));
        assertEquals(RegistryException.Kind.NOT_FOUND, nf.kind());
        assertEquals(RegistryException.Kind.NOT_FOUND,
                assertThrows(RegistryException.class, () -> reg.versionNumbers("nope")).kind());
        assertEquals(RegistryException.Kind.INVALID,
                assertThrows(RegistryException.class, () -> reg.register("../evil", file, RegisterOptions.defaults())).kind());
    }

    @Test
    void versionNumbersAreNeverReused() {
        ModelRegistry reg = ModelRegistry.open(tmp.resolve("reg"));
        reg.register("m", model(1), RegisterOptions.defaults());
        reg.register("m", model(2), RegisterOptions.defaults());
        reg.deleteVersion("m", 2, "bob");
        assertEquals(3, reg.register("m", model(3), RegisterOptions.defaults()).version());
        assertEquals(List.of(1, 3), reg.versionNumbers("m"));
    }

    @Test
    void invalidFileIsRefusedAndLeavesNothing() {
        ModelRegistry reg = ModelRegistry.open(tmp.resolve("reg"));
        RegistryException e = assertThrows(RegistryException.class, () -> reg.register("m",
                new ByteArrayInputStream("definitely not a model".getBytes()), RegisterOptions.defaults()));
        assertEquals(RegistryException.Kind.INVALID, e.kind());
        assertTrue(e.getMessage().contains("not a valid model"), e.getMessage());
        assertTrue(reg.models().isEmpty() || reg.versionNumbers("m").isEmpty());
    }

    @Test
    void aliasesRollbackAndHistory() {
        ModelRegistry reg = ModelRegistry.open(tmp.resolve("reg"));
        for (int i = 1; i <= 3; i++) {
            reg.register("m", model(i), RegisterOptions.defaults().actor("ci"));
        }
        assertTrue(reg.setAlias("m", "stable", 1, "alice").isEmpty());
        assertEquals(1, reg.setAlias("m", "stable", 2, "alice").orElseThrow());
        assertEquals(2, reg.setAlias("m", "stable", 3, "bob").orElseThrow());
        reg.setAlias("m", "canary", 1, "bob");
        assertEquals(Map.of("stable", 3, "canary", 1), reg.aliases("m"));

        assertEquals(2, reg.rollback("m", "stable", "carol"));
        assertEquals(1, reg.rollback("m", "stable", "carol"));
        RegistryException none = assertThrows(RegistryException.class, () -> reg.rollback("m", "stable", "carol"));
        assertEquals(RegistryException.Kind.CONFLICT, none.kind());
        assertEquals(1, reg.resolveAlias("m", "stable").orElseThrow());
        // a move after rollbacks starts a new branch: rolling back returns to where we were
        reg.setAlias("m", "stable", 3, "dave");
        assertEquals(1, reg.rollback("m", "stable", "dave"));
        assertEquals(RegistryException.Kind.NOT_FOUND,
                assertThrows(RegistryException.class, () -> reg.rollback("m", "nope", "x")).kind());
        assertEquals(RegistryException.Kind.INVALID,
                assertThrows(RegistryException.class, () -> reg.setAlias("m", "42", 1, "x")).kind());

        List<HistoryEntry> h = reg.history("m");
        List<String> actions = h.stream().map(e -> e.action() + ":" + e.alias() + ":" + e.version() + ":" + e.previous())
                .collect(Collectors.toList());
        assertEquals(List.of(
                "register:null:1:null", "register:null:2:null", "register:null:3:null",
                "alias:stable:1:null", "alias:stable:2:1", "alias:stable:3:2", "alias:canary:1:null",
                "rollback:stable:2:3", "rollback:stable:1:2",
                "alias:stable:3:1", "rollback:stable:1:3"), actions);
        assertEquals("carol", h.get(7).actor());
        assertTrue(h.stream().allMatch(e -> e.time() != null && e.actor() != null));
    }

    @Test
    void rollbackSkipsDeletedVersions() {
        ModelRegistry reg = ModelRegistry.open(tmp.resolve("reg"));
        for (int i = 1; i <= 3; i++) {
            reg.register("m", model(i), RegisterOptions.defaults());
        }
        reg.setAlias("m", "stable", 1, "a");
        reg.setAlias("m", "stable", 2, "a");
        reg.setAlias("m", "stable", 3, "a");
        reg.deleteVersion("m", 2, "a");
        assertEquals(1, reg.rollback("m", "stable", "a"));
    }

    @Test
    void deleteRefusedWhileAliased() {
        ModelRegistry reg = ModelRegistry.open(tmp.resolve("reg"));
        reg.register("m", model(1), RegisterOptions.defaults());
        reg.setAlias("m", "champion", 1, "a");
        RegistryException e = assertThrows(RegistryException.class, () -> reg.deleteVersion("m", 1, "a"));
        assertEquals(RegistryException.Kind.CONFLICT, e.kind());
        assertTrue(e.getMessage().contains("champion"), e.getMessage());
        assertEquals(List.of(1), reg.versionNumbers("m"));
        reg.removeAlias("m", "champion", "a");
        reg.deleteVersion("m", 1, "a");
        assertEquals(List.of(), reg.versionNumbers("m"));
        HistoryEntry last = reg.history("m").get(reg.history("m").size() - 1);
        assertEquals("delete", last.action());
        assertEquals(1, last.version());
        assertNull(last.alias());
    }

    @Test
    void verifyDetectsModifiedFile() throws IOException {
        ModelRegistry reg = ModelRegistry.open(tmp.resolve("reg"));
        reg.register("m", model(1), RegisterOptions.defaults());
        reg.register("m", model(2), RegisterOptions.defaults());
        assertTrue(reg.verify(null).stream().allMatch(VerifyResult::ok));
        Path f = reg.modelFile("m", 2);
        byte[] bytes = Files.readAllBytes(f);
        bytes[bytes.length - 1] ^= 0x01;
        Files.write(f, bytes);
        List<VerifyResult> r = reg.verify("m");
        assertTrue(r.get(0).ok());
        assertFalse(r.get(1).ok());
        assertTrue(r.get(1).message().contains("mismatch"));
        Files.delete(reg.modelFile("m", 1));
        assertEquals("model file is missing", reg.verify("m").get(0).message());
    }

    /** A metadata.json edited to name a file outside its version's directory is refused, never followed. */
    @Test
    void metadataCannotPointOutsideItsVersion() throws IOException {
        ModelRegistry reg = ModelRegistry.open(tmp.resolve("reg"));
        reg.register("m", model(1), RegisterOptions.defaults());
        reg.register("other", model(2), RegisterOptions.defaults());
        Path meta = tmp.resolve("reg").resolve("m").resolve("1").resolve(ModelRegistry.METADATA_FILE);
        String good = Files.readString(meta);
        for (String[] edit : new String[][] {
                {"\"file\"\\s*:\\s*\"model.d4j\"", "\"file\": \"../../other/1/model.d4j\""},
                {"\"file\"\\s*:\\s*\"model.d4j\"", "\"file\": \"" + tmp.resolve("m1.d4j") + "\""},
                {"\"model\"\\s*:\\s*\"m\"", "\"model\": \"other\""},
                {"\"version\"\\s*:\\s*1", "\"version\": 2"}}) {
            String edited = good.replaceFirst(edit[0], java.util.regex.Matcher.quoteReplacement(edit[1]));
            assertFalse(edited.equals(good), "the edit applies: " + edit[0]);
            Files.writeString(meta, edited);
            RegistryException e = assertThrows(RegistryException.class, () -> reg.modelFile("m", 1), edit[1]);
            assertTrue(e.getMessage().contains("not a file of model 'm' version 1"), e.getMessage());
        }
        Files.writeString(meta, good);
        assertEquals(tmp.resolve("reg").resolve("m").resolve("1").resolve("model.d4j"), reg.modelFile("m", 1));
    }

    @Test
    void readersNeverSeePartialStateWhileWriting() throws Exception {
        ModelRegistry reg = ModelRegistry.open(tmp.resolve("reg"));
        reg.register("m", model(1), RegisterOptions.defaults());
        reg.setAlias("m", "stable", 1, "w");
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread reader = new Thread(() -> {
            ModelRegistry r = ModelRegistry.open(tmp.resolve("reg"));
            while (!stop.get()) {
                try {
                    for (ModelVersionInfo info : r.versions("m")) {
                        assertEquals(64, info.sha256().length());
                    }
                    int v = r.resolveAlias("m", "stable").orElseThrow();
                    assertTrue(v >= 1);
                    r.history("m");
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            }
        });
        reader.start();
        Path f = model(2);
        for (int i = 0; i < 20; i++) {
            int v = reg.register("m", f, RegisterOptions.defaults()).version();
            reg.setAlias("m", "stable", v, "w");
        }
        stop.set(true);
        reader.join(10_000);
        if (failure.get() != null) {
            throw new AssertionError("reader failed", failure.get());
        }
    }

    @Test
    void concurrentRegistersFromTwoProcesses() throws Exception {
        Path root = tmp.resolve("reg");
        ModelRegistry reg = ModelRegistry.open(root);
        Path file = model(5);
        int perProcess = 6;
        Process child = startChild(root, file, perProcess, null);
        // this process registers at the same time, from two threads
        Thread t = new Thread(() -> {
            for (int i = 0; i < perProcess; i++) {
                reg.register("m", file, RegisterOptions.defaults().actor("thread"));
            }
        });
        t.start();
        for (int i = 0; i < perProcess; i++) {
            reg.register("m", file, RegisterOptions.defaults().actor("parent"));
        }
        t.join(60_000);
        assertTrue(child.waitFor(60, TimeUnit.SECONDS), "child did not finish");
        assertEquals(0, child.exitValue(), new String(child.getInputStream().readAllBytes()));
        int total = 3 * perProcess;
        assertEquals(IntStream.rangeClosed(1, total).boxed().collect(Collectors.toList()), reg.versionNumbers("m"));
        List<HistoryEntry> h = reg.history("m");
        assertEquals(total, h.size());
        assertEquals(IntStream.rangeClosed(1, total).boxed().collect(Collectors.toList()),
                h.stream().map(HistoryEntry::version).sorted().collect(Collectors.toList()));
        assertEquals(perProcess, h.stream().filter(e -> e.actor().startsWith("child-")).count());
        assertTrue(reg.verify("m").stream().allMatch(VerifyResult::ok));
    }

    @Test
    void crashInTheMiddleOfRegisterLeavesNoVisibleVersion() throws Exception {
        Path root = tmp.resolve("reg");
        ModelRegistry reg = ModelRegistry.open(root);
        Path file = model(9);
        reg.register("m", file, RegisterOptions.defaults());
        for (String point : List.of("mid-copy", "before-publish")) {
            int historyBefore = reg.history("m").size();
            Process child = startChild(root, file, 1, point);
            assertTrue(child.waitFor(60, TimeUnit.SECONDS));
            assertEquals(86, child.exitValue(), "child should have crashed at " + point);
            assertEquals(List.of(1), reg.versionNumbers("m"), "a crashed register must not be visible (" + point + ")");
            assertEquals(historyBefore, reg.history("m").size());
            try (Stream<Path> s = Files.list(root.resolve(".staging"))) {
                assertEquals(1, s.count(), "the crashed staging directory is left for cleanup");
            }
            // the registry stays fully usable, and the next writer removes the dead process's leftovers
            int next = reg.register("m", file, RegisterOptions.defaults()).version();
            assertTrue(next > 1);
            try (Stream<Path> s = Files.list(root.resolve(".staging"))) {
                assertEquals(0, s.count());
            }
            reg.deleteVersion("m", next, "test");
        }
        assertTrue(reg.verify("m").stream().allMatch(VerifyResult::ok));
    }

    /**
     * Staging directories of several hosts sharing one registry: another host's pid means nothing here, so its
     * directories are removed by age only; this host's are judged by their pid.
     */
    @Test
    void staleStagingIsJudgedPerHost() throws Exception {
        Path root = tmp.resolve("reg");
        ModelRegistry reg = ModelRegistry.open(root);
        Path staging = Files.createDirectories(root.resolve(".staging"));
        String otherHost = ModelRegistry.HOST_TAG.equals("h000000000000") ? "h000000000001" : "h000000000000";
        long livePid = ProcessHandle.current().parent().map(ProcessHandle::pid).orElseThrow(); // alive here
        Path foreignRecent = Files.createDirectories(staging.resolve(otherHost + "-" + livePid + "-a"));
        Path foreignDeadPid = Files.createDirectories(staging.resolve(otherHost + "-999999999-b")); // recent all the same
        Path foreignOld = Files.createDirectories(staging.resolve(otherHost + "-" + livePid + "-c"));
        Files.setLastModifiedTime(foreignOld, java.nio.file.attribute.FileTime.from(
                java.time.Instant.now().minus(ModelRegistry.FOREIGN_STAGING_AGE).minusSeconds(60)));
        Path ownDead = Files.createDirectories(staging.resolve(ModelRegistry.HOST_TAG + "-999999999-d"));
        Path ownLive = Files.createDirectories(staging.resolve(ModelRegistry.HOST_TAG + "-" + livePid + "-e"));
        Path legacyDead = Files.createDirectories(staging.resolve("999999999-f"));
        reg.register("m", model(1), RegisterOptions.defaults()); // a writer cleans up under the lock
        assertTrue(Files.isDirectory(foreignRecent));
        assertTrue(Files.isDirectory(foreignDeadPid), "another host's pid is not judged here");
        assertFalse(Files.exists(foreignOld));
        assertFalse(Files.exists(ownDead));
        assertTrue(Files.isDirectory(ownLive));
        assertFalse(Files.exists(legacyDead));
    }

    /**
     * A history line left without its newline (a crash or a full disk mid-write) is cut off by the next append,
     * not glued to it: the history stays readable.
     */
    @Test
    void aPartialHistoryLineIsCutOffByTheNextAppend() throws IOException {
        ModelRegistry reg = ModelRegistry.open(tmp.resolve("reg"));
        reg.register("m", model(1), RegisterOptions.defaults());
        Path history = tmp.resolve("reg").resolve("m").resolve("history.jsonl");
        assertTrue(Files.exists(history), "history file name");
        int before = reg.history("m").size();
        Files.writeString(history, "{\"at\":\"2026-12-02T00:00:00Z\",\"act", java.nio.file.StandardOpenOption.APPEND);
        assertEquals(before, reg.history("m").size(), "readers skip the partial last line");
        reg.setAlias("m", "stable", 1, "test");
        List<HistoryEntry> h = reg.history("m");
        assertEquals(before + 1, h.size());
        assertEquals("stable", h.get(h.size() - 1).alias());
        assertFalse(Files.readString(history).contains("\"act{"), "no glued line");
    }

    /**
     * A history line that cannot be written once the change is made (a full disk; here the file is a directory for a
     * while) does not turn the change into a reported failure, which a client would retry into a second version: the
     * call succeeds, the line is shown meanwhile and written, in order, before the model's next one.
     */
    @Test
    void aHistoryLineThatCannotBeWrittenDoesNotFailTheChangeAndIsWrittenWithTheNext() throws IOException {
        ModelRegistry reg = ModelRegistry.open(tmp.resolve("reg"));
        reg.register("m", model(1), RegisterOptions.defaults());
        Path history = tmp.resolve("reg").resolve("m").resolve("history.jsonl");
        byte[] kept = Files.readAllBytes(history);
        Files.delete(history);
        Files.createDirectory(history); // every append fails now

        ModelVersionInfo v2 = reg.register("m", model(2), RegisterOptions.defaults().actor("ci"));
        assertEquals(2, v2.version());
        assertEquals(Optional.empty(), reg.setAlias("m", "stable", 2, "ci"));
        assertEquals(List.of(1, 2), reg.versionNumbers("m"), "registered once");

        Files.delete(history);
        Files.write(history, kept);
        List<HistoryEntry> shown = reg.history("m");
        assertEquals(List.of(HistoryEntry.REGISTER, HistoryEntry.REGISTER, HistoryEntry.ALIAS),
                shown.stream().map(HistoryEntry::action).toList(), "the lines waiting are shown: " + shown);
        assertEquals(Optional.empty(), reg.rollbackTarget("m", "stable"), "the alias had no earlier version");

        reg.register("other", model(3), RegisterOptions.defaults()); // any change writes the lines waiting
        assertEquals(3, Files.readAllLines(history).size(), "m's two waiting lines written by a change of another model");
        assertEquals(3, reg.history("m").size(), "shown once, though written and read back: " + reg.history("m"));
        reg.setAlias("m", "stable", 1, "ci");
        List<String> lines = Files.readAllLines(history);
        assertEquals(4, lines.size(), String.join("\n", lines));
        List<HistoryEntry> h = ModelRegistry.open(tmp.resolve("reg")).history("m");
        assertEquals(List.of(HistoryEntry.REGISTER, HistoryEntry.REGISTER, HistoryEntry.ALIAS, HistoryEntry.ALIAS),
                h.stream().map(HistoryEntry::action).toList());
        assertEquals(2, h.get(1).version());
        assertEquals(Integer.valueOf(2), h.get(3).previous());
        assertEquals(2, reg.rollback("m", "stable", "ci"), "the rollback reads the line that had waited");
    }

    /**
     * This JVM's classes as one class path: the tests' own directory, the module path (surefire runs the API as a
     * module) and the class path.
     */
    private static String childClassPath() {
        List<String> parts = new ArrayList<>();
        try {
            parts.add(Path.of(RegistryChild.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString());
        } catch (java.net.URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        for (String p : new String[] {System.getProperty("jdk.module.path"), System.getProperty("java.class.path")}) {
            if (p != null && !p.isEmpty()) {
                parts.add(p);
            }
        }
        return String.join(java.io.File.pathSeparator, parts);
    }

    private Process startChild(Path root, Path file, int count, String crashPoint) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-cp");
        cmd.add(childClassPath());
        if (crashPoint != null) {
            cmd.add("-D" + ModelRegistry.CRASH_POINT_PROPERTY + "=" + crashPoint);
        }
        cmd.add(RegistryChild.class.getName());
        cmd.add(root.toString());
        cmd.add("m");
        cmd.add(file.toString());
        cmd.add(Integer.toString(count));
        return new ProcessBuilder(cmd).redirectErrorStream(true).start();
    }

    private static String sha256(Path f) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f)));
    }
}
