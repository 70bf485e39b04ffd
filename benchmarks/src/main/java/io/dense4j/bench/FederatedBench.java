package io.dense4j.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.dense4j.Sequential;
import io.dense4j.plots.Plots;
import io.dense4j.data.Dataset;
import io.dense4j.data.Mnist;
import io.dense4j.federated.DirichletPartitioner;
import io.dense4j.federated.FederatedClient;
import io.dense4j.federated.FederatedConfig;
import io.dense4j.federated.FederatedSimulation;
import io.dense4j.federated.RoundSummary;
import io.dense4j.federated.privacy.RdpAccountant;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.optim.Optimizers;
import io.dense4j.train.Evaluation;
import io.dense4j.train.Losses;
import io.dense4j.train.Metrics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The federated simulation benchmark of issue 15: 10 clients in one JVM on Dirichlet(0.5) partitions of
 * Fashion-MNIST, the reference model with Adam 1e-3 locally (batch 32, one local epoch per round), run three ways on
 * the same partitions and seeds: plain FedAvg, FedAvg with secure aggregation, and DP-FedAvg with secure
 * aggregation (the example settings: 8 expected clients of 10 per round, min 6, clip 1, noise 0.8).
 * Records per round: test accuracy and loss, wall seconds of the round (all clients' training and the protocol, one
 * thread), bytes per client up and down (measured by the coordinator on the encoded frames), and ε at δ = 1e-5.
 *
 * <p>Usage: {@code java -cp benchmarks/target/benchmarks.jar io.dense4j.bench.FederatedBench [--rounds 30]
 * [--data DIR] [--out benchmarks/results] [--clip 1.0] [--noise 0.8]}; writes federated.json, federated.md and
 * federated-accuracy.png.
 */
public final class FederatedBench {
    record Run(String name, FederatedConfig config) {}

    /** Held so that the level sticks: the per-round log lines repeat what this benchmark prints. */
    private static final java.util.logging.Logger FEDERATED_LOG = java.util.logging.Logger.getLogger("io.dense4j.federated");

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = options(args);
        FEDERATED_LOG.setLevel(java.util.logging.Level.WARNING);
        int rounds = Integer.parseInt(opt.getOrDefault("rounds", "30"));
        Path dir = Path.of(opt.getOrDefault("data", "/usr/share/datasets/fashion-mnist"));
        Path out = Path.of(opt.getOrDefault("out", "benchmarks/results"));
        double dpClip = Double.parseDouble(opt.getOrDefault("clip", "1.0"));
        double noise = Double.parseDouble(opt.getOrDefault("noise", "0.8"));
        int clients = 10;

        FederatedConfig.Builder base = FederatedConfig.builder().rounds(rounds).clientsPerRound(clients).minClients(5)
                .localEpochs(1).batchSize(32).exampleWeightCap(60_000).samplingSeed(1L);
        List<Run> runs = List.of(
                new Run("fedavg", base.build()),
                new Run("fedavg+secagg", base.secureAggregation(true).clipNorm(10).build()),
                new Run("dp-fedavg+secagg", base.secureAggregation(true).clipNorm(dpClip).noiseMultiplier(noise)
                        .clientsPerRound(8).minClients(6).build()));

        Map<String, Object> report = new LinkedHashMap<>();
        report.put("started", Instant.now().toString());
        report.put("load_average_start", loadAverage());
        report.put("cores", Runtime.getRuntime().availableProcessors());
        report.put("setup", "10 clients, Dirichlet(0.5) per-label partitions of the Fashion-MNIST training set (seed 7, "
                + "min 100 rows), 784-128 relu-10 softmax, Adam 1e-3, batch 32, 1 local epoch, test set of 10000");
        List<Map<String, Object>> results = new ArrayList<>();
        try (Mnist.Data data = Mnist.load(dir)) {
            int[][] parts = DirichletPartitioner.partition(data.train().labels().toIntArray(), clients, 0.5, 100, 7);
            List<Dataset> partitions = new ArrayList<>();
            List<Integer> sizes = new ArrayList<>();
            for (int[] p : parts) {
                partitions.add(data.train().subset(p));
                sizes.add(p.length);
            }
            report.put("partition_sizes", sizes);
            try {
                for (Run run : runs) {
                    results.add(runOne(run, partitions, data.test()));
                }
            } finally {
                partitions.forEach(Dataset::close);
            }
        }
        report.put("runs", results);
        report.put("epsilon_table", epsilonTable(rounds));
        report.put("secagg_protocol", List.of(secAggProtocol(10, 101_771, 0), secAggProtocol(10, 101_771, 2)));
        report.put("finished", Instant.now().toString());
        report.put("load_average_end", loadAverage());

        Files.createDirectories(out);
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.resolve("federated.json").toFile(), report);
        Files.writeString(out.resolve("federated.md"), markdown(report, results));
        plot(results, out.resolve("federated-accuracy.png"));
        System.out.println(markdown(report, results));
        System.out.println("wrote " + out.resolve("federated.json") + ", federated.md, federated-accuracy.png");
    }

    static Map<String, Object> runOne(Run run, List<Dataset> partitions, Dataset test) {
        List<Map<String, Object>> perRound = new ArrayList<>();
        try (Sequential model = Sequential.of(Dense.of(784, 128, Activation.RELU), Dense.of(128, 10, Activation.SOFTMAX))) {
            model.compile(Optimizers.adam(1e-3), Losses.SPARSE_CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
            model.initialize(42);
            try (FederatedSimulation sim = new FederatedSimulation("bench-" + run.name(), run.config(), model, partitions, 5,
                    null)) {
                sim.start();
                System.out.println("== " + run.name() + " " + run.config().toMap());
                RoundSummary s;
                while (true) {
                    long t0 = System.nanoTime();
                    s = sim.runRound();
                    double wall = (System.nanoTime() - t0) / 1e9;
                    if (s == null) {
                        break;
                    }
                    Evaluation e = sim.evaluate(test);
                    double trainSeconds = 0;
                    for (FederatedClient c : sim.clients()) {
                        if (c.lastTraining() != null && c.round() == s.round()) {
                            trainSeconds += c.lastTraining().seconds();
                        }
                    }
                    Map<String, Object> r = new LinkedHashMap<>();
                    r.put("round", s.round());
                    r.put("status", s.status());
                    r.put("selected", s.selected());
                    r.put("participants", s.participants());
                    r.put("accuracy", e.accuracy());
                    r.put("loss", e.loss());
                    r.put("round_seconds", wall);
                    r.put("local_training_seconds", trainSeconds);
                    r.put("bytes_up_per_client", s.clientsSeen() == 0 ? 0 : s.bytesUp() / s.clientsSeen());
                    r.put("bytes_down_per_client", s.clientsSeen() == 0 ? 0 : s.bytesDown() / s.clientsSeen());
                    r.put("epsilon", Double.isNaN(s.epsilon()) ? null : s.epsilon());
                    perRound.add(r);
                    System.out.printf("%s round %d %s: %d clients, accuracy %.4f, %.2f s (training %.2f s), "
                                    + "%d B up / %d B down per client, epsilon %s%n", run.name(), s.round(), s.status(),
                            s.participants(), e.accuracy(), wall, trainSeconds, r.get("bytes_up_per_client"),
                            r.get("bytes_down_per_client"), r.get("epsilon"));
                }
            }
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", run.name());
        m.put("config", run.config().toMap());
        m.put("rounds", perRound);
        return m;
    }

    /**
     * The secure-aggregation protocol alone (no training), n clients, one vector of the reference model's length:
     * median milliseconds over 5 repetitions (after 2 warm-ups) of the clients' key rounds (advertise + share, summed over clients),
     * the clients' masking (summed), and the server's unmasking, with {@code dropped} clients dropping after masking.
     */
    static Map<String, Object> secAggProtocol(int n, int length, int dropped) {
        java.security.SecureRandom random = new java.security.SecureRandom();
        int repeats = 5;
        double[] keys = new double[repeats];
        double[] mask = new double[repeats];
        double[] unmask = new double[repeats];
        for (int rep = -2; rep < repeats; rep++) { // two untimed warm-up repetitions
            byte[] nonce = new byte[16];
            random.nextBytes(nonce);
            java.util.TreeMap<String, io.dense4j.federated.secagg.SecAggClient> cs = new java.util.TreeMap<>();
            for (int i = 0; i < n; i++) {
                String id = String.format("c%02d", i);
                cs.put(id, new io.dense4j.federated.secagg.SecAggClient("b", 1, id, 3, random));
            }
            var server = new io.dense4j.federated.secagg.SecAggServer("b", 1, nonce, cs.keySet(), 2, 0.5, length);
            java.util.function.Function<String, io.dense4j.federated.protocol.Message.Envelope> env =
                    id -> new io.dense4j.federated.protocol.Message.Envelope("b", id, 1, nonce, new byte[16]);
            long t0 = System.nanoTime();
            cs.forEach((id, c) -> server.accept(id, c.advertiseKeys(env.apply(id))));
            server.closePhase();
            cs.forEach((id, c) -> server.accept(id, c.shareKeys(server.peerKeys(), env.apply(id))));
            server.closePhase();
            long t1 = System.nanoTime();
            int[] x = new int[length];
            cs.forEach((id, c) -> server.accept(id, c.maskInput(server.sharesFor(id), x, env.apply(id))));
            server.closePhase();
            long t2 = System.nanoTime();
            int k = 0;
            for (var e : cs.entrySet()) {
                if (k++ >= dropped) {
                    server.accept(e.getKey(), e.getValue().unmask(server.unmaskingRequest(e.getKey()), env.apply(e.getKey())));
                }
            }
            long t3 = System.nanoTime();
            server.closePhase();
            long t4 = System.nanoTime();
            if (server.phase() != io.dense4j.federated.secagg.SecAggServer.Phase.COMPLETED) {
                throw new IllegalStateException("secure aggregation did not complete: " + server.abortReason());
            }
            if (rep < 0) {
                continue;
            }
            keys[rep] = (t1 - t0) / 1e6;
            mask[rep] = (t2 - t1) / 1e6;
            unmask[rep] = (t4 - t3 + (t3 - t2)) / 1e6;
        }
        java.util.Arrays.sort(keys);
        java.util.Arrays.sort(mask);
        java.util.Arrays.sort(unmask);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("clients", n);
        m.put("vector_length", length);
        m.put("dropped_after_masking", dropped);
        m.put("key_rounds_ms_all_clients", keys[repeats / 2]);
        m.put("masking_ms_all_clients", mask[repeats / 2]);
        m.put("unmasking_ms_server_and_shares", unmask[repeats / 2]);
        System.out.println("secagg protocol only: " + m);
        return m;
    }

    /** ε after the given rounds at δ = 1e-5 for a few sampling rates and noise multipliers (accountant only). */
    static List<Map<String, Object>> epsilonTable(int rounds) {
        List<Map<String, Object>> t = new ArrayList<>();
        for (double q : new double[] {0.8, 0.1, 0.01}) {
            for (double z : new double[] {0.5, 0.8, 1.0, 2.0}) {
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("q", q);
                r.put("z", z);
                r.put("rounds", rounds);
                r.put("epsilon", new RdpAccountant().composePoissonSampledGaussian(q, z, rounds).epsilon(1e-5).epsilon());
                t.add(r);
            }
        }
        return t;
    }

    @SuppressWarnings("unchecked")
    static String markdown(Map<String, Object> report, List<Map<String, Object>> results) {
        StringBuilder b = new StringBuilder();
        b.append("Run ").append(report.get("started")).append(" to ").append(report.get("finished")).append(", ")
                .append(report.get("cores")).append(" cores, load average ").append(report.get("load_average_start"))
                .append(" at the start and ").append(report.get("load_average_end")).append(" at the end.\n\n");
        b.append("| round |");
        for (Map<String, Object> r : results) {
            b.append(' ').append(r.get("name")).append(" accuracy | s |");
        }
        b.append('\n').append("|---|");
        b.append("---|---|".repeat(results.size())).append('\n');
        int n = results.stream().mapToInt(r -> ((List<?>) r.get("rounds")).size()).max().orElse(0);
        for (int i = 1; i <= n; i++) {
            b.append("| ").append(i).append(" |");
            for (Map<String, Object> r : results) {
                final int round = i;
                Map<String, Object> x = ((List<Map<String, Object>>) r.get("rounds")).stream()
                        .filter(m -> ((Number) m.get("round")).intValue() == round).findFirst().orElse(null);
                if (x == null) {
                    b.append(" | |");
                } else if ("ABORTED".equals(x.get("status"))) {
                    b.append(String.format(" aborted (%d sampled) | %.2f |", (Integer) x.get("selected"),
                            (Double) x.get("round_seconds")));
                } else {
                    b.append(String.format(" %.4f | %.2f |", (Double) x.get("accuracy"), (Double) x.get("round_seconds")));
                }
            }
            b.append('\n');
        }
        b.append("\n| run | final accuracy | first round >= 84% | aborted rounds | median s/round | median training s/round "
                + "| bytes up/client/round | bytes down/client/round | epsilon (delta 1e-5) |\n|---|---|---|---|---|---|---|---|---|\n");
        for (Map<String, Object> r : results) {
            List<Map<String, Object>> rounds = (List<Map<String, Object>>) r.get("rounds");
            Map<String, Object> last = rounds.get(rounds.size() - 1);
            long aborted = rounds.stream().filter(x -> "ABORTED".equals(x.get("status"))).count();
            Object first84 = rounds.stream().filter(x -> (Double) x.get("accuracy") >= 0.84).map(x -> x.get("round"))
                    .findFirst().orElse("not reached");
            b.append(String.format("| %s | %.4f | %s | %d | %.2f | %.2f | %d | %d | %s |%n", r.get("name"),
                    (Double) last.get("accuracy"), first84, aborted, median(rounds, "round_seconds"),
                    median(rounds, "local_training_seconds"), (long) median(rounds, "bytes_up_per_client"),
                    (long) median(rounds, "bytes_down_per_client"),
                    last.get("epsilon") == null ? "no DP" : String.format("%.2f", (Double) last.get("epsilon"))));
        }
        b.append("\n| SecAgg protocol only | clients | vector | dropped after masking | key rounds, all clients (ms) "
                + "| masking, all clients (ms) | unmasking (ms) |\n|---|---|---|---|---|---|---|\n");
        for (Map<String, Object> p : (List<Map<String, Object>>) report.get("secagg_protocol")) {
            b.append(String.format("| | %s | %s | %s | %.1f | %.1f | %.1f |%n", p.get("clients"), p.get("vector_length"),
                    p.get("dropped_after_masking"), (Double) p.get("key_rounds_ms_all_clients"),
                    (Double) p.get("masking_ms_all_clients"), (Double) p.get("unmasking_ms_server_and_shares")));
        }
        b.append("\n| q | z | epsilon after ").append(report.get("epsilon_table") instanceof List<?> l && !l.isEmpty()
                ? ((Map<String, Object>) l.get(0)).get("rounds") : "").append(" rounds (delta 1e-5) |\n|---|---|---|\n");
        for (Map<String, Object> e : (List<Map<String, Object>>) report.get("epsilon_table")) {
            b.append(String.format("| %s | %s | %.3f |%n", e.get("q"), e.get("z"), (Double) e.get("epsilon")));
        }
        return b.toString();
    }

    /** Median over the completed rounds. */
    static double median(List<Map<String, Object>> rounds, String key) {
        double[] v = rounds.stream().filter(x -> "COMPLETED".equals(x.get("status")))
                .mapToDouble(x -> ((Number) x.get(key)).doubleValue()).sorted().toArray();
        return v.length == 0 ? Double.NaN : v[v.length / 2];
    }

    @SuppressWarnings("unchecked")
    static void plot(List<Map<String, Object>> results, Path png) throws java.io.IOException {
        plot(results, png, "Federated Fashion-MNIST, 10 clients, Dirichlet(0.5)");
    }

    /** Test accuracy per round of each run ({@code name}, {@code rounds[].round}, {@code rounds[].accuracy}). */
    @SuppressWarnings("unchecked")
    static void plot(List<Map<String, Object>> results, Path png, String title) throws java.io.IOException {
        XYChart c = new XYChartBuilder().width(860).height(520).title(title)
                .xAxisTitle("round").yAxisTitle("test accuracy").build();
        Plots.style(c);
        c.getStyler().setLegendPosition(Styler.LegendPosition.InsideSE);
        for (Map<String, Object> r : results) {
            List<Map<String, Object>> rounds = (List<Map<String, Object>>) r.get("rounds");
            List<Map<String, Object>> scored = rounds.stream().filter(m -> m.get("accuracy") instanceof Number).toList();
            double[] x = scored.stream().mapToDouble(m -> ((Number) m.get("round")).doubleValue()).toArray();
            double[] y = scored.stream().mapToDouble(m -> ((Number) m.get("accuracy")).doubleValue()).toArray();
            XYSeries s = c.addSeries((String) r.get("name"), x, y);
            s.setMarker(SeriesMarkers.CIRCLE);
        }
        Plots.writePng(List.of(c), png);
    }

    static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (java.io.IOException e) {
            return "unknown";
        }
    }

    static Map<String, String> options(String[] args) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("usage: FederatedBench [--rounds N] [--data DIR] [--out DIR] "
                        + "[--clip S] [--noise Z]; got " + args[i]);
            }
            m.put(args[i].substring(2), args[++i]);
        }
        return m;
    }
}
