package io.dense4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.bench.device.Devices;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs the whole JMH suite as one command, for every device that can run here, with the shapes each device
 * takes, then writes the JSON results, the run's metadata and the markdown report:
 *
 * <pre>
 *   benchmarks/bench.sh quick     # a few minutes on 2 cores: 1 fork, short iterations, OpenBLAS on 1 thread
 *   benchmarks/bench.sh full      # 2 forks, longer iterations, 1 and 2 OpenBLAS threads
 *   java -cp benchmarks/target/benchmarks.jar io.dense4j.bench.Suite quick [--out DIR] [--devices cpu,java,cuda]
 * </pre>
 *
 * Devices that cannot run here (no GPU, no CUDA binding) are skipped with their reason printed and recorded
 * in the metadata, so the report says "not measured" with that reason.
 */
public final class Suite {
    record Profile(String name, int forks, int warmups, int warmupMs, int iterations, int iterationMs, int[] threads) {}

    static final Profile QUICK = new Profile("quick", 1, 2, 400, 3, 500, new int[] {1});
    static final Profile FULL = new Profile("full", 2, 3, 1000, 5, 1000, new int[] {1, 2});

    public static void main(String[] args) throws Exception {
        Profile profile = QUICK;
        Path out = Path.of("benchmarks/results");
        List<String> devices = new ArrayList<>(Devices.KNOWN);
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "quick" -> profile = QUICK;
                case "full" -> profile = FULL;
                case "--out" -> out = Path.of(args[++i]);
                case "--devices" -> devices = List.of(args[++i].split(","));
                default -> {
                    System.err.println("usage: Suite quick|full [--out DIR] [--devices java,cpu,cuda]");
                    System.exit(2);
                }
            }
        }
        Files.createDirectories(out);
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode meta = machine(json, profile);
        ArrayNode skipped = meta.putArray("skipped");
        ArrayNode all = json.createArrayNode();
        Path tmp = Files.createTempDirectory("d4j-jmh");
        int run = 0;
        for (String device : devices) {
            String reason = Devices.unavailableReason(device);
            if (reason != null) {
                System.out.println("SKIPPED device '" + device + "': " + reason);
                skipped.addObject().put("device", device).put("reason", reason);
                continue;
            }
            boolean gpu = "cuda".equals(device);
            boolean java = "java".equals(device);
            String threads = join(java || gpu ? new int[] {1} : profile.threads());
            String shapes = gpu ? String.join(",", Shape.REF_HIDDEN, Shape.REF_OUTPUT, Shape.MEDIUM, Shape.LARGE)
                    : String.join(",", Shape.REF_HIDDEN, Shape.REF_OUTPUT, Shape.MEDIUM);
            if (!gpu) {
                skipped.addObject().put("device", device).put("shape", Shape.LARGE).put("reason", "GPU only");
            }
            List<Map<String, String>> groups = new ArrayList<>();
            groups.add(group("OpBenchmarks\\.(forward|backward|backwardFirstLayer|activationBackward|softmaxCrossEntropy)$",
                    "device", device, "shape", shapes, "cpuThreads", threads));
            if (!java) { // the Java baseline's forward already is its GEMM
                groups.add(group("OpBenchmarks\\.sgemm.*", "device", device, "shape", shapes, "cpuThreads", threads));
                groups.add(group("PeakBenchmark\\.sgemmPeak", "device", device, "size", gpu ? "8192" : "2048",
                        "cpuThreads", java ? "1" : join(new int[] {1, 2})));
            }
            groups.add(group("OptimizerBenchmarks\\.optimizer", "device", device, "cpuThreads", "1"));
            groups.add(group("TrainStepBenchmarks\\.trainStep", "device", device, "batch", "32,256",
                    "stepsPerCall", java ? "1" : "1,64", "cpuThreads", threads));
            groups.add(group("InferenceBenchmarks\\.inference", "device", device, "batch", "1,32,256", "cpuThreads", threads));
            if ("cpu".equals(device)) {
                groups.add(group("ApiBenchmarks\\.predictOneRow"));
            }
            for (Map<String, String> g : groups) {
                Path file = tmp.resolve("run" + (run++) + ".json");
                ChainedOptionsBuilder o = new OptionsBuilder().include(g.remove("include"))
                        .forks(profile.forks()).warmupIterations(profile.warmups())
                        .warmupTime(TimeValue.milliseconds(profile.warmupMs()))
                        .measurementIterations(profile.iterations())
                        .measurementTime(TimeValue.milliseconds(profile.iterationMs()))
                        .shouldFailOnError(false).resultFormat(ResultFormatType.JSON).result(file.toString());
                for (Map.Entry<String, String> p : g.entrySet()) {
                    o.param(p.getKey(), p.getValue().split(","));
                }
                new Runner(o.build()).run();
                if (Files.exists(file)) {
                    for (JsonNode n : json.readTree(file.toFile())) {
                        all.add(n);
                    }
                }
            }
        }
        meta.put("loadavg_end", loadavg());
        meta.put("finished", ZonedDateTime.now().toString());
        Path results = out.resolve("jmh-" + profile.name() + ".json");
        Path metaFile = out.resolve("jmh-" + profile.name() + ".meta.json");
        Path md = out.resolve("jmh-" + profile.name() + ".md");
        json.writeValue(results.toFile(), all);
        json.writeValue(metaFile.toFile(), meta);
        Files.writeString(md, Report.render(all, meta));
        System.out.println("wrote " + results + ", " + metaFile + " and " + md);
    }

    static Map<String, String> group(String include, String... params) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("include", include);
        for (int i = 0; i < params.length; i += 2) {
            m.put(params[i], params[i + 1]);
        }
        return m;
    }

    static String join(int[] a) {
        StringBuilder b = new StringBuilder();
        for (int v : a) {
            b.append(b.length() > 0 ? "," : "").append(v);
        }
        return b.toString();
    }

    /** What the report states about the machine and the run. */
    static ObjectNode machine(ObjectMapper json, Profile profile) {
        ObjectNode m = json.createObjectNode();
        m.put("profile", profile.name());
        m.put("started", ZonedDateTime.now().toString());
        m.put("cpu_model", cpuModel());
        m.put("cores", Runtime.getRuntime().availableProcessors());
        String core = System.getenv("OPENBLAS_CORETYPE");
        m.put("openblas_coretype", core == null ? "(unset: OpenBLAS detects the core)" : core);
        m.put("openblas_version", org.bytedeco.openblas.global.openblas.OPENBLAS_VERSION.trim());
        m.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        m.put("loadavg_start", loadavg());
        m.put("settings", String.format("forks %d, warmup %d x %d ms, measurement %d x %d ms, OpenBLAS threads %s",
                profile.forks(), profile.warmups(), profile.warmupMs(), profile.iterations(), profile.iterationMs(),
                join(profile.threads())));
        return m;
    }

    static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (Exception ignored) {
            // not Linux
        }
        return System.getProperty("os.arch");
    }

    static String loadavg() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (Exception e) {
            return "unknown";
        }
    }
}
