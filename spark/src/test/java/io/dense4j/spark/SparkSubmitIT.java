package io.dense4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.Model;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * target/dense4j-spark.jar as a cluster runs it, after {@code package} (failsafe): it carries Dense4J, its native
 * libraries (org.bytedeco where JavaCPP looks for them) and a relocated Jackson, and nothing of Spark or Scala; and
 * Spark's own SparkSubmit, on a classpath of Spark's jars alone (what a Spark installation has), runs its main class
 * on a CSV file, loading the native libraries from the jar into a fresh cache, and writes a model that loads.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class SparkSubmitIT {
    static final Path JAR = Path.of(System.getProperty("dense4j.spark.jar", "target/dense4j-spark.jar")).toAbsolutePath();

    @TempDir
    Path tmp;

    @Test
    void theJarCarriesDense4JAndItsNativesButNotSpark() throws IOException {
        assertTrue(Files.isRegularFile(JAR), JAR + " is missing: run mvn package first");
        List<String> entries;
        try (ZipFile z = new ZipFile(JAR.toFile())) {
            entries = z.stream().map(e -> e.getName()).collect(Collectors.toList());
        }
        assertTrue(entries.contains("io/dense4j/spark/SparkTrain.class"));
        assertTrue(entries.contains("io/dense4j/Sequential.class"));
        assertTrue(entries.stream().anyMatch(e -> e.matches("io/dense4j/nativelib/linux-x86_64/libdense4j_cpu\\.so")));
        assertTrue(entries.contains("org/bytedeco/javacpp/Loader.class"), "org.bytedeco is neither left out nor moved");
        assertTrue(entries.stream().anyMatch(e -> e.startsWith("io/dense4j/shaded/jackson/databind/")));
        for (String e : entries) {
            assertFalse(e.startsWith("org/apache/spark/") || e.startsWith("scala/") || e.startsWith("com/fasterxml/")
                    || e.startsWith("org/bytedeco/openblas/"), e + " does not belong in the jar (no BLAS library: the CPU"
                    + " kernels do every product)");
        }
    }

    @Test
    void sparkSubmitRunsTheMainClassFromTheJar() throws Exception {
        Path data = Files.writeString(tmp.resolve("data.csv"), csv(-1));
        Path out = tmp.resolve("model.d4j");
        Submitted run = submit(data, out);
        assertEquals(0, run.exit(), run.log());
        assertTrue(run.log().contains("epoch 2/2 - loss") && run.log().contains("saved " + out), run.log());
        try (Model m = Model.load(out)) {
            assertEquals(2, m.predict(new float[] {2, 0, -1}).length);
        }
        try (var files = Files.walk(tmp.resolve("cache"))) {
            assertTrue(files.anyMatch(f -> f.getFileName().toString().startsWith("libdense4j_cpu")),
                    "the native libraries were unpacked into the given cache");
        }
    }

    /** Hostile data through spark-submit: one error line naming the row, exit code 1, no model written. */
    @Test
    void sparkSubmitRefusesBadDataWithOneLine() throws Exception {
        Path data = Files.writeString(tmp.resolve("bad.csv"), csv(237));
        Path out = tmp.resolve("model.d4j");
        Submitted run = submit(data, out);
        assertEquals(1, run.exit(), run.log());
        assertTrue(run.log().contains("error: ") && run.log().contains("line 239")
                && run.log().contains("missing value 'nan'"), run.log());
        assertFalse(Files.exists(out), "no model is written");
    }

    /** 400 rows of 3 features and a class; row {@code nanRow} (0-based, or -1 for none) has "nan" in column b. */
    static String csv(int nanRow) {
        StringBuilder csv = new StringBuilder("a,b,c,label\n");
        Random r = new Random(3);
        for (int i = 0; i < 400; i++) {
            int c = r.nextInt(2);
            csv.append(r.nextGaussian() + 2 * c).append(',').append(i == nanRow ? "nan" : r.nextGaussian())
                    .append(',').append(r.nextGaussian() - c).append(',').append(c).append('\n');
        }
        return csv.toString();
    }

    record Submitted(int exit, String log) {}

    /** SparkTrain through Spark's SparkSubmit (local[2]), on Spark's jars and the dense4j-spark jar alone. */
    Submitted submit(Path data, Path out) throws Exception {
        // Spark's jars: this JVM's classpath less Dense4J, its dependencies and the build's own classes
        List<String> spark = new ArrayList<>();
        for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
            String name = Path.of(e).getFileName().toString();
            if (e.endsWith(".jar") && !name.startsWith("dense4j-") && !e.contains("/org/bytedeco/")
                    && !name.startsWith("picocli-") && !e.contains("/org/junit/") && !e.contains("/opentest4j/")
                    && !e.contains("/apiguardian/") && !e.contains("surefire") && !e.contains("failsafe")) {
                spark.add(e);
            }
        }
        Path config = Files.writeString(tmp.resolve("model.json"), """
                {"model": {"class_name": "Sequential", "config_version": 2,
                           "layers": [{"type": "dense", "units": 8, "activation": "relu"},
                                      {"type": "dense", "units": 2, "activation": "softmax"}],
                           "compile_config": {"optimizer": {"type": "adam", "learning_rate": 0.01},
                                              "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}},
                 "fit": {"epochs": 2, "batch_size": 16, "seed": 1}}
                """);
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(Arrays.asList(System.getProperty("spark.jvm.options", "").trim().split("\\s+")));
        cmd.addAll(List.of("-Xmx1g", "-Dorg.bytedeco.javacpp.cachedir=" + tmp.resolve("cache"), "-cp",
                String.join(File.pathSeparator, spark), "org.apache.spark.deploy.SparkSubmit", "--master", "local[2]",
                "--conf", "spark.ui.enabled=false", "--class", "io.dense4j.spark.SparkTrain", JAR.toString(),
                "--config", config.toString(), "--data", data.toString(), "--workers", "2", "-H", "4",
                "-o", out.toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(tmp.toFile()).redirectErrorStream(true)
                .redirectOutput(tmp.resolve("log.txt").toFile());
        pb.environment().remove("JAVA_TOOL_OPTIONS");
        pb.environment().remove("LD_LIBRARY_PATH");
        pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
        Process p = pb.start();
        assertTrue(p.waitFor(240, TimeUnit.SECONDS), "spark-submit did not finish");
        return new Submitted(p.exitValue(), Files.readString(tmp.resolve("log.txt"), StandardCharsets.UTF_8));
    }
}
