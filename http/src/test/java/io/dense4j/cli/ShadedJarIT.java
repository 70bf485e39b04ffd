package io.dense4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.dense4j.nativelib.CpuKernels;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.ZipFile;
import javax.imageio.ImageIO;
import org.bytedeco.javacpp.Loader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * target/dense4j.jar as a user runs it, after {@code package} (failsafe): it is at most 20 MiB, carries the native
 * libraries that load and nothing that never runs (no BLAS library: every product is our own kernel; no JavaCPP
 * build tools; no other systems' natives); {@code java -jar} trains, imports Keras files, predicts, manages a
 * registry and serves from a fresh JavaCPP cache with an environment that has nothing but the JDK (no
 * LD_LIBRARY_PATH, no JAVA_TOOL_OPTIONS), and SQLite's JDBC driver loads its native library from it.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class ShadedJarIT {
    static final Path JAR = Path.of(System.getProperty("dense4j.jar", "target/dense4j.jar")).toAbsolutePath();
    static final String PLATFORM = Loader.getPlatform();
    /** Issue 10's footprint goal for the CPU + CUDA jar. */
    static final long MAX_JAR_BYTES = 20L << 20;
    static final String OURS = "io/dense4j/nativelib/" + PLATFORM + "/";

    @TempDir
    Path tmp;

    static List<String> entries() throws IOException {
        assertTrue(Files.isRegularFile(JAR), JAR + " is missing: run mvn package first");
        try (ZipFile z = new ZipFile(JAR.toFile())) {
            return z.stream().map(e -> e.getName()).collect(Collectors.toList());
        }
    }

    /** The libraries the native build put in dense4j-native (its classes folder in a reactor build, or its jar). */
    static List<String> nativeBuildLibraries() throws Exception {
        Path where = Path.of(CpuKernels.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        if (Files.isDirectory(where)) {
            try (Stream<Path> s = Files.list(where.resolve(OURS))) {
                return s.map(p -> OURS + p.getFileName()).sorted().toList();
            }
        }
        try (ZipFile z = new ZipFile(where.toFile())) {
            return z.stream().map(e -> e.getName()).filter(n -> n.startsWith(OURS) && n.length() > OURS.length())
                    .sorted().toList();
        }
    }

    /** libdense4j_cuda: the CUDA library where the native build found nvcc, else the no-CUDA placeholder. */
    static boolean cudaLibraryBuilt() throws Exception {
        return nativeBuildLibraries().contains(OURS + "libdense4j_cuda.so");
    }

    @Test
    void isSmallAndCarriesWhatLoadsAndNothingThatNeverRuns() throws Exception {
        long size = Files.size(JAR);
        assertTrue(size <= MAX_JAR_BYTES, JAR + " is " + size + " bytes, over the " + MAX_JAR_BYTES + " (20 MiB) goal");
        List<String> names = entries();
        List<String> ours = nativeBuildLibraries();
        assertTrue(ours.containsAll(List.of(OURS + "libdense4j_cpu.so", OURS + "libjniCpuKernels.so")), ours.toString());
        List<String> needed = new ArrayList<>(ours); // libdense4j_cuda and its JNI glue too, when nvcc built them
        needed.add("org/bytedeco/javacpp/" + PLATFORM + "/libjnijavacpp.so");
        // what JavaCPP's Loader and Pointer load at run time from its tools package (by name, or for logging)
        for (String tool : List.of("Logger", "Slf4jLogger", "NativeAllocationTracer", "PointerBufferPoolMXBean")) {
            needed.add("org/bytedeco/javacpp/tools/" + tool + ".class");
        }
        for (String lib : needed) {
            assertTrue(names.contains(lib), "the jar lacks " + lib);
        }

        // what the jar must not carry again, each with the reason it is not needed
        Map<String, String> unwanted = Map.ofEntries(
                Map.entry("org/bytedeco/openblas/", "OpenBLAS: libdense4j_cpu's products are all our own kernels"),
                Map.entry("libgfortran", "OpenBLAS's Fortran runtime"),
                Map.entry("org/bytedeco/javacpp/tools/Builder", "JavaCPP's native build (build time only)"),
                Map.entry("org/bytedeco/javacpp/tools/Parser", "JavaCPP's header parser (build time only)"),
                Map.entry("org/bytedeco/javacpp/tools/Generator", "JavaCPP's JNI code generator (build time only)"),
                Map.entry("org/bytedeco/javacpp/tools/BuildMojo", "JavaCPP's Maven goals (build time only)"),
                Map.entry("org/bytedeco/javacpp/indexer/", "JavaCPP's typed memory views, which nothing uses"),
                Map.entry("org/apache/pdfbox/", "XChart's PDF export (plots are PNG)"),
                Map.entry("org/apache/fontbox/", "pdfbox's fonts"),
                Map.entry("org/eclipse/jetty/websocket/", "Jetty's WebSocket stack (no WebSocket route)"),
                Map.entry("io/prometheus/metrics/expositionformats/generated/", "Prometheus's protobuf format (/metrics is text)"));
        for (String name : names) {
            unwanted.forEach((part, why) -> assertFalse(name.contains(part), name + " is in the jar: " + why));
        }
        // libraries that bundle natives for every system keep only this jar's one (its JavaCPP code is linux-x86_64)
        for (String nativeDir : List.of("org/sqlite/native/", "org/jline/nativ/")) {
            names.stream().filter(n -> n.startsWith(nativeDir) && n.indexOf('/', nativeDir.length()) >= 0) // in a system's folder
                    .forEach(n -> assertTrue(n.startsWith(nativeDir + "Linux/") && (n.equals(nativeDir + "Linux/")
                            || n.startsWith(nativeDir + "Linux/x86_64/")), n + " is a native library for another system"));
        }

        // one copy of each native library (copyLibs once copied the system's libgfortran beside ours)
        Map<String, List<String>> byFile = new TreeMap<>();
        names.stream().filter(n -> n.startsWith("io/dense4j/") || n.startsWith("org/bytedeco/"))
                .filter(n -> n.contains(".so"))
                .forEach(n -> byFile.computeIfAbsent(n.substring(n.lastIndexOf('/') + 1), k -> new ArrayList<>()).add(n));
        byFile.forEach((file, where) -> assertEquals(1, where.size(), file + " is in the jar more than once: " + where));
    }

    @Test
    void trainsPredictsAndServesFromAFreshCacheWithNothingButAJdk() throws Exception {
        Path cache = tmp.resolve("javacpp-cache");
        Path csv = blobs(tmp.resolve("blobs.csv"));
        Path model = tmp.resolve("blobs.d4j");
        Path png = tmp.resolve("curves.png");

        String train = run(cache, "train", "--data", csv.toString(), "--layers", "8,3", "--activations", "relu,softmax",
                "--epochs", "3", "--no-progress", "--plot", png.toString(), "-o", model.toString());
        assertTrue(train.contains("saved " + model), train);
        BufferedImage curves = ImageIO.read(png.toFile());
        assertNotNull(curves, "train --plot wrote a PNG");
        assertTrue(curves.getWidth() > 0 && curves.getHeight() > 0);

        // Loader extracted our libraries and no BLAS library (the CPU kernels need none)
        List<String> extracted;
        try (Stream<Path> s = Files.walk(cache)) {
            extracted = s.filter(Files::isRegularFile).map(p -> p.getFileName().toString()).sorted().toList();
        }
        assertTrue(extracted.containsAll(List.of("libdense4j_cpu.so", "libjniCpuKernels.so")), "extracted: " + extracted);
        assertTrue(extracted.stream().noneMatch(f -> f.contains("openblas") || f.startsWith("libgfortran")),
                "extracted: " + extracted);

        String predict = run(cache, "predict", "-m", model.toString(), "--values", "4,4,4,4");
        assertTrue(predict.contains("row 0: 2"), predict);

        // Keras import from the jar: a Keras 2 HDF5 file (jHDF and its runtime dependencies) and a Keras 3 .keras zip
        Path keras = Path.of("../interop/src/test/resources/keras").toAbsolutePath();
        for (String file : List.of("k2_old_list_config.h5", "k3_names_differ.keras")) {
            Path imported = tmp.resolve(file + ".d4j");
            String text = run(cache, "import", keras.resolve(file).toString(), "-o", imported.toString());
            assertTrue(text.contains("saved " + imported), text);
            assertTrue(Files.size(imported) > 0, text);
        }

        if (cudaLibraryBuilt()) {
            // with a GPU it runs; without one the library still loads from the jar and says why there is no device
            Result cuda = start(cache, "predict", "-m", model.toString(), "--values", "4,4,4,4", "--device", "cuda").finish();
            if (cuda.code != 0) {
                assertTrue(cuda.output.contains("is not available"), cuda.output);
                assertFalse(cuda.output.contains("could not be loaded") || cuda.output.contains("UnsatisfiedLinkError"),
                        "libdense4j_cuda did not load from the jar: " + cuda.output);
            } else {
                assertTrue(cuda.output.contains("row 0: 2"), cuda.output);
            }
        }

        // SQLite's JDBC driver (the job state store) finds its native library and registers through ServiceLoader
        Path testClasses = Path.of(ShadedJarIT.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Result sqlite = start(cache, List.of("-Dorg.sqlite.tmpdir=" + Files.createDirectories(tmp.resolve("sqlite-tmp")),
                "-cp", JAR + java.io.File.pathSeparator + testClasses, SqliteProbe.class.getName(),
                tmp.resolve("state.db").toString())).finish();
        assertEquals(0, sqlite.code, sqlite.output);
        assertTrue(sqlite.output.matches("(?s).*sqlite 3\\.\\d+.*"), sqlite.output);

        Path registry = tmp.resolve("registry");
        run(cache, "registry", "register", "--registry", registry.toString(), "--model", "blobs", "--alias", "stable",
                model.toString());
        String listed = run(cache, "registry", "list", "--registry", registry.toString());
        assertTrue(listed.contains("blobs"), listed);
        String verified = run(cache, "registry", "verify", "--registry", registry.toString());
        assertTrue(verified.contains("all 1 versions ok"), verified);
        Started server = start(cache, "serve", "--registry", registry.toString(), "--port", "0");
        try {
            int port = server.awaitPort();
            HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + port + "/v2/models/blobs/infer"))
                    .timeout(Duration.ofSeconds(30))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(
                            "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP32\",\"data\":[4,4,4,4]}]}"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            assertTrue(r.body().contains("\"shape\":[1,3]"), r.body());
        } finally {
            server.stop();
        }
    }

    /** Three well separated classes of 4 features, labels 0, 1, 2 around 0, 2 and 4. */
    static Path blobs(Path file) throws IOException {
        StringBuilder b = new StringBuilder("a,b,c,d,label\n");
        Random r = new Random(7);
        for (int i = 0; i < 150; i++) {
            int y = i % 3;
            for (int j = 0; j < 4; j++) {
                b.append(String.format(Locale.ROOT, "%.4f,", y * 2 + r.nextGaussian() * 0.3));
            }
            b.append(y).append('\n');
        }
        Files.writeString(file, b);
        return file;
    }

    record Result(int code, String output) {}

    /** A {@code java -jar} process; its output goes to a file, so that a chatty server never blocks on a pipe. */
    final class Started {
        final Process process;
        final Path log;

        Started(Process process, Path log) {
            this.process = process;
            this.log = log;
        }

        String output() throws IOException {
            return Files.readString(log, StandardCharsets.UTF_8);
        }

        Result finish() throws Exception {
            if (!process.waitFor(180, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                fail("java -jar did not finish in 180 s:\n" + output());
            }
            return new Result(process.exitValue(), output());
        }

        int awaitPort() throws Exception {
            Pattern listening = Pattern.compile("dense4j serving .* on http://[^:]+:(\\d+)");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (System.nanoTime() < deadline) {
                Matcher m = listening.matcher(output());
                if (m.find()) {
                    return Integer.parseInt(m.group(1));
                }
                if (!process.isAlive()) {
                    fail("serve exited with " + process.exitValue() + ":\n" + output());
                }
                Thread.sleep(100);
            }
            fail("serve did not start listening in 120 s:\n" + output());
            return -1;
        }

        void stop() throws Exception {
            process.destroy(); // SIGTERM: the server drains and closes its models
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                fail("serve did not stop on SIGTERM within 30 s:\n" + output());
            }
        }
    }

    private int launches;

    /**
     * Starts {@code java -jar dense4j.jar args} with a fresh environment: only HOME (a temporary directory) and,
     * where this machine sets them, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (the team leaves those alone in tests).
     */
    Started start(Path cache, String... args) throws IOException {
        List<String> javaArgs = new ArrayList<>(List.of("-jar", JAR.toString()));
        javaArgs.addAll(List.of(args));
        return start(cache, javaArgs);
    }

    /** Starts {@code java javaArgs} the same way (e.g. {@code -cp} and a main class). */
    Started start(Path cache, List<String> javaArgs) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m", "-Dorg.bytedeco.javacpp.cachedir=" + cache));
        cmd.addAll(javaArgs);
        Path home = Files.createDirectories(tmp.resolve("home"));
        Path log = tmp.resolve("java-" + (++launches) + ".log");
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(home.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        Map<String, String> env = pb.environment();
        env.clear();
        env.put("HOME", home.toString());
        for (String keep : List.of("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")) {
            String v = System.getenv(keep);
            if (v != null) {
                env.put(keep, v);
            }
        }
        return new Started(pb.start(), log);
    }

    /** Opens a SQLite database through JDBC, with the shaded jar on the class path, and prints its version. */
    public static final class SqliteProbe {
        public static void main(String[] args) throws Exception {
            try (java.sql.Connection c = java.sql.DriverManager.getConnection("jdbc:sqlite:" + args[0]);
                 java.sql.ResultSet r = c.createStatement().executeQuery("select sqlite_version()")) {
                r.next();
                System.out.println("sqlite " + r.getString(1));
            }
        }
    }

    /** Runs to the end and expects exit code 0; returns the output. */
    String run(Path cache, String... args) throws Exception {
        Result r = start(cache, args).finish();
        assertEquals(0, r.code, "java -jar dense4j.jar " + String.join(" ", args) + "\n" + r.output);
        return r.output;
    }
}
