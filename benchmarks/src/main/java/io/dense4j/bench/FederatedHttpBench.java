package io.dense4j.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import io.dense4j.data.Mnist;
import io.dense4j.federated.DirichletPartitioner;
import io.dense4j.registry.ModelRegistry;
import io.dense4j.train.Evaluation;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Federated learning as users run it: {@code dense4j serve} in one JVM and three parties, each
 * {@code dense4j federated join} in its own JVM on loopback with its own Dirichlet(0.5) share of the Fashion-MNIST
 * training set written as its own IDX directory; the task is created with {@code dense4j federated create}. Every
 * round's global model is read back from the registry and evaluated on the 10000 test images (after the run, so
 * the evaluation takes no CPU from the rounds). Runs plain FedAvg and FedAvg with secure aggregation one after the
 * other on the same partitions.
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar io.dense4j.bench.FederatedHttpBench --jar http/target/dense4j.jar
 *      [--rounds 30] [--data /usr/share/datasets/fashion-mnist] [--out benchmarks/results] [--runs fedavg,fedavg+secagg] [--keep true]
 * </pre>
 */
public final class FederatedHttpBench {
    private static final String ADMIN = "bench-admin-token-0123456789";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String[] PARTIES = {"north", "south", "east"};

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = FederatedBench.options(args);
        Path jar = Path.of(opt.getOrDefault("jar", "http/target/dense4j.jar")).toAbsolutePath();
        int rounds = Integer.parseInt(opt.getOrDefault("rounds", "30"));
        Path data = Path.of(opt.getOrDefault("data", "/usr/share/datasets/fashion-mnist"));
        Path out = Path.of(opt.getOrDefault("out", "benchmarks/results"));
        List<String> runs = List.of(opt.getOrDefault("runs", "fedavg,fedavg+secagg").split(","));
        Path work = Files.createTempDirectory("d4j-fedhttp-");

        Map<String, Object> report = new LinkedHashMap<>();
        report.put("started", Instant.now().toString());
        report.put("load_average_start", FederatedBench.loadAverage());
        report.put("cores", Runtime.getRuntime().availableProcessors());
        report.put("setup", "dense4j serve + 3 client JVMs (dense4j federated join, 1 thread each) on loopback HTTP; "
                + "Dirichlet(0.5) per-label partitions of the Fashion-MNIST training set (seed 7, min 100 rows) as IDX "
                + "directories; 784-128 relu-10 softmax, Adam 1e-3, batch 32, 1 local epoch, all 3 clients per round");

        Mnist.Data fashion = Mnist.load(data);
        int[][] parts = DirichletPartitioner.partition(fashion.train().labels().toIntArray(), PARTIES.length, 0.5, 100, 7);
        List<Integer> sizes = new ArrayList<>();
        List<Path> shards = new ArrayList<>();
        for (int p = 0; p < PARTIES.length; p++) {
            try (Dataset share = fashion.train().subset(parts[p])) {
                Mnist.writeSplit(share, work.resolve(PARTIES[p]), "train");
            }
            shards.add(work.resolve(PARTIES[p]));
            sizes.add(parts[p].length);
        }
        report.put("partition_sizes", sizes);
        Path model = Files.writeString(work.resolve("model.json"), """
                {"model": {"class_name": "Sequential", "config_version": 2,
                  "layers": [{"type": "dense", "units": 128, "activation": "relu", "input_dim": 784},
                             {"type": "dense", "units": 10, "activation": "softmax"}],
                  "compile_config": {"optimizer": {"type": "adam", "learning_rate": 0.001},
                                     "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}}}""");

        List<Map<String, Object>> results = new ArrayList<>();
        try (fashion) {
            for (String run : runs) {
                results.add(runOne(run, jar, work.resolve("run-" + results.size()), model, shards, rounds, fashion.test()));
            }
        } finally {
            if (!opt.containsKey("keep")) {
                deleteTree(work);
            } else {
                System.out.println("kept " + work);
            }
        }
        report.put("runs", results);
        report.put("finished", Instant.now().toString());
        report.put("load_average_end", FederatedBench.loadAverage());
        Files.createDirectories(out);
        JSON.copy().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.resolve("federated-http.json").toFile(), report);
        String md = markdown(report, results);
        Files.writeString(out.resolve("federated-http.md"), md);
        FederatedBench.plot(results, out.resolve("federated-http-accuracy.png"),
                "Federated Fashion-MNIST over HTTP, 3 client JVMs, Dirichlet(0.5)");
        System.out.println(md);
        System.out.println("wrote " + out.resolve("federated-http.json") + ", federated-http.md and "
                + "federated-http-accuracy.png");
    }

    static Map<String, Object> runOne(String run, Path jar, Path dir, Path model, List<Path> shards, int rounds,
                                      Dataset test) throws Exception {
        boolean secagg = switch (run) {
            case "fedavg" -> false;
            case "fedavg+secagg" -> true;
            default -> throw new IllegalArgumentException("runs are fedavg and fedavg+secagg, not " + run);
        };
        Files.createDirectories(dir);
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String base = "http://127.0.0.1:" + port;
        Process server = start(jar, dir.resolve("server.log"), "-Xmx768m", List.of("serve", "--registry",
                dir.resolve("reg").toString(), "--state", dir.resolve("state.db").toString(), "--admin-token", ADMIN,
                "--port", Integer.toString(port), "--no-access-log"));
        List<Process> parties = new ArrayList<>();
        try {
            waitForServer(base, server);
            List<String> create = new ArrayList<>(List.of("federated", "create", "--server", base, "--token", ADMIN,
                    "--model-config", model.toString(), "--rounds", Integer.toString(rounds), "--clients-per-round", "3",
                    "--min-clients", "3", "--local-epochs", "1", "--batch-size", "32", "--seed", "42",
                    "--client-names", String.join(",", PARTIES), "--training-timeout", "10m", "--json"));
            if (secagg) {
                create.addAll(List.of("--secure-aggregation", "--clip-norm", "10"));
            } else {
                create.addAll(List.of("--example-weight-cap", "60000"));
            }
            JsonNode created = JSON.readTree(cli(jar, create));
            String task = created.path("task").path("id").asText();
            long t0 = System.nanoTime();
            for (int p = 0; p < PARTIES.length; p++) {
                parties.add(start(jar, dir.resolve(PARTIES[p] + ".log"), "-Xmx512m", List.of("federated", "join",
                        "--server", base, "--token", created.path("client_tokens").path(PARTIES[p]).asText(), "--task",
                        task, "--data", shards.get(p).toString(), "--seed", Integer.toString(p), "--threads", "1")));
            }
            for (int p = 0; p < parties.size(); p++) {
                if (!parties.get(p).waitFor(rounds * 120L + 120, TimeUnit.SECONDS)) {
                    throw new IllegalStateException(PARTIES[p] + " did not finish; see " + dir);
                }
                if (parties.get(p).exitValue() != 0) {
                    throw new IllegalStateException(PARTIES[p] + " failed: " + Files.readString(dir.resolve(PARTIES[p] + ".log")));
                }
            }
            double wall = (System.nanoTime() - t0) / 1e9;
            JsonNode status = JSON.readTree(cli(jar, List.of("federated", "status", "--json", "--server", base, "--token",
                    ADMIN, task)));
            List<Map<String, Object>> perRound = new ArrayList<>();
            ModelRegistry registry = ModelRegistry.open(dir.resolve("reg"));
            String name = status.path("register_as").asText();
            for (JsonNode r : status.path("history")) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("round", r.path("round").asInt());
                m.put("status", r.path("status").asText());
                m.put("participants", r.path("participants").asInt());
                m.put("seconds", r.path("seconds").asDouble());
                int seen = Math.max(1, r.path("clients_seen").asInt());
                m.put("bytes_up_per_client", r.path("bytes_up").asLong() / seen);
                m.put("bytes_down_per_client", r.path("bytes_down").asLong() / seen);
                JsonNode v = r.path("model_version");
                if (!v.isMissingNode() && !v.isNull()) {
                    try (Sequential s = Sequential.load(registry.modelFile(name, v.asInt()))) {
                        Evaluation e = s.evaluate(test);
                        m.put("model_version", v.asInt());
                        m.put("accuracy", e.accuracy());
                        m.put("loss", e.loss());
                    }
                }
                perRound.add(m);
                System.out.printf(Locale.ROOT, "%s round %s: %s%n", run, m.get("round"), m);
            }
            Map<String, Object> res = new LinkedHashMap<>();
            res.put("name", run);
            res.put("config", JSON.convertValue(status.path("config"), Map.class));
            res.put("wall_seconds", wall);
            res.put("rounds", perRound);
            res.put("client_logs_tail", tails(dir));
            return res;
        } finally {
            for (Process p : parties) {
                p.destroyForcibly();
            }
            server.destroy();
            if (!server.waitFor(30, TimeUnit.SECONDS)) {
                server.destroyForcibly();
            }
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private static Map<String, String> tails(Path dir) throws IOException {
        Map<String, String> m = new LinkedHashMap<>();
        for (String p : PARTIES) {
            List<String> lines = Files.readAllLines(dir.resolve(p + ".log"));
            m.put(p, lines.isEmpty() ? "" : lines.get(lines.size() - 1));
        }
        return m;
    }

    private static Process start(Path jar, Path log, String heap, List<String> args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                heap, "-XX:+UseSerialGC"));
        String cache = System.getProperty("org.bytedeco.javacpp.cachedir");
        if (cache != null) {
            cmd.add("-Dorg.bytedeco.javacpp.cachedir=" + cache);
        }
        cmd.addAll(List.of("-jar", jar.toString()));
        cmd.addAll(args);
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    private static String cli(Path jar, List<String> args) throws IOException, InterruptedException {
        Path log = Files.createTempFile("d4j-cli-", ".out");
        try {
            Process p = start(jar, log, "-Xmx256m", args);
            if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IllegalStateException("dense4j " + String.join(" ", args.subList(0, 2)) + " failed: "
                        + Files.readString(log));
            }
            // stdout and stderr share the file: the JSON answer is the part from the first '{'
            String text = Files.readString(log);
            return text.substring(text.indexOf('{'));
        } finally {
            Files.deleteIfExists(log);
        }
    }

    private static void waitForServer(String base, Process server) throws Exception {
        var client = java.net.http.HttpClient.newHttpClient();
        for (int i = 0; i < 240; i++) {
            if (!server.isAlive()) {
                throw new IllegalStateException("the server exited with " + server.exitValue());
            }
            try {
                var r = client.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(base + "/v2/health/live")).build(),
                        java.net.http.HttpResponse.BodyHandlers.discarding());
                if (r.statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(500);
        }
        throw new IllegalStateException("the server did not answer within 120 s");
    }

    static String markdown(Map<String, Object> report, List<Map<String, Object>> results) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "Run %s - %s, load average %s -> %s, %s cores; partitions %s%n%n",
                report.get("started"), report.get("finished"), report.get("load_average_start"),
                report.get("load_average_end"), report.get("cores"), report.get("partition_sizes")));
        sb.append("| run | rounds | final accuracy | first round >= 84% | median s/round | bytes up/client/round "
                + "| bytes down/client/round | wall s |\n|---|---|---|---|---|---|---|---|\n");
        for (Map<String, Object> r : results) {
            @SuppressWarnings("unchecked")
            List<Map<String, Object>> rounds = (List<Map<String, Object>>) r.get("rounds");
            Object first = rounds.stream().filter(m -> m.get("accuracy") instanceof Double a && a >= 0.84)
                    .map(m -> m.get("round")).findFirst().orElse("not reached");
            Map<String, Object> last = rounds.get(rounds.size() - 1);
            sb.append(String.format(Locale.ROOT, "| %s | %d | %.4f | %s | %.2f | %d | %d | %.0f |%n", r.get("name"),
                    rounds.size(), (Double) last.get("accuracy"), first, FederatedBench.median(rounds, "seconds"),
                    (long) FederatedBench.median(rounds, "bytes_up_per_client"),
                    (long) FederatedBench.median(rounds, "bytes_down_per_client"), (Double) r.get("wall_seconds")));
        }
        sb.append("\n| round |");
        results.forEach(r -> sb.append(" ").append(r.get("name")).append(" accuracy | s |"));
        sb.append("\n|---|");
        results.forEach(r -> sb.append("---|---|"));
        sb.append('\n');
        @SuppressWarnings("unchecked")
        int n = results.stream().mapToInt(r -> ((List<Object>) r.get("rounds")).size()).max().orElse(0);
        for (int i = 0; i < n; i++) {
            sb.append("| ").append(i + 1).append(" |");
            for (Map<String, Object> r : results) {
                @SuppressWarnings("unchecked")
                List<Map<String, Object>> rounds = (List<Map<String, Object>>) r.get("rounds");
                if (i < rounds.size()) {
                    Map<String, Object> m = rounds.get(i);
                    sb.append(String.format(Locale.ROOT, " %.4f | %.2f |", m.get("accuracy") instanceof Double a ? a
                            : Double.NaN, (Double) m.get("seconds")));
                } else {
                    sb.append(" | |");
                }
            }
            sb.append('\n');
        }
        return sb.toString();
    }
}
