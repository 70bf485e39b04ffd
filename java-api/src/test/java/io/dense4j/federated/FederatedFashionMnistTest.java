package io.dense4j.federated;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import io.dense4j.data.Mnist;
import io.dense4j.federated.secagg.Quantizer;
import io.dense4j.layers.Activation;
import io.dense4j.layers.Dense;
import io.dense4j.optim.Optimizers;
import io.dense4j.train.Losses;
import io.dense4j.train.Metrics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The federated simulation on real data: 10 clients in this JVM, each holding a Dirichlet(0.5) non-IID partition of
 * Fashion-MNIST's training set; the reference model (784-128 relu-10 softmax), Adam 1e-3 locally, batch 32, one
 * local epoch per round.
 */
class FederatedFashionMnistTest {
    static final Path FASHION = Path.of("/usr/share/datasets/fashion-mnist");
    static final int CLIENTS = 10;
    static final double CLIP = 10;
    static Mnist.Data data;
    static List<Dataset> partitions;

    @BeforeAll
    static void load() throws Exception {
        assumeTrue(Files.isDirectory(FASHION), "Fashion-MNIST is not installed at " + FASHION);
        data = Mnist.load(FASHION);
        int[][] parts = DirichletPartitioner.partition(data.train().labels().toIntArray(), CLIENTS, 0.5, 100, 7);
        partitions = new ArrayList<>();
        for (int[] p : parts) {
            partitions.add(data.train().subset(p));
        }
    }

    @AfterAll
    static void close() {
        if (partitions != null) {
            partitions.forEach(Dataset::close);
        }
        if (data != null) {
            data.close();
        }
    }

    static Sequential model() {
        Sequential m = Sequential.of(Dense.of(784, 128, Activation.RELU), Dense.of(128, 10, Activation.SOFTMAX));
        m.compile(Optimizers.adam(1e-3), Losses.SPARSE_CATEGORICAL_CROSSENTROPY, Metrics.ACCURACY);
        m.initialize(42);
        return m;
    }

    static FederatedConfig.Builder config() {
        return FederatedConfig.builder().rounds(30).clientsPerRound(CLIENTS).minClients(5).localEpochs(1).batchSize(32)
                .clipNorm(CLIP).exampleWeightCap(60_000).samplingSeed(1L);
    }

    static FederatedSimulation simulation(FederatedConfig c, Sequential model, InMemoryTransport.Tap tap) {
        return new FederatedSimulation("fmnist", c, model, partitions, 5, tap);
    }

    /** The uploads the clients computed in the last round, keyed by client. */
    static Map<String, float[]> uploads(FederatedSimulation sim, Set<String> who) {
        Map<String, float[]> m = new HashMap<>();
        for (FederatedClient c : sim.clients()) {
            if (who.contains(c.clientId())) {
                m.put(c.clientId(), LocalTrainer.uploadVector(c.lastTraining().delta(), c.lastTraining().examples(),
                        sim.coordinator().config().plan()));
            }
        }
        return m;
    }

    /** The largest difference between the applied update and Σ v_k / Σ w_k over {@code who}, in float64. */
    static double deviationFromMean(float[] before, float[] after, Map<String, float[]> uploads) {
        int p = before.length;
        double[] sum = new double[p + 1];
        for (float[] v : uploads.values()) {
            for (int i = 0; i <= p; i++) {
                sum[i] += v[i];
            }
        }
        double worst = 0;
        for (int i = 0; i < p; i++) {
            worst = Math.max(worst, Math.abs(after[i] - (before[i] + sum[i] / sum[p])));
        }
        return worst;
    }

    @Test
    void fedAvgWithSecureAggregationReaches84PercentWithin30Rounds() {
        try (Sequential m = model(); FederatedSimulation sim = simulation(config().secureAggregation(true).build(), m, null)) {
            sim.start();
            double acc = 0;
            List<String> log = new ArrayList<>();
            while (acc < 0.84 && !sim.coordinator().finished()) {
                RoundSummary s = sim.runRound();
                assertTrue(s.completed(), s.reason());
                assertArrayEquals(new int[] {CLIENTS, CLIENTS, CLIENTS, CLIENTS}, s.secAggSets());
                acc = sim.evaluate(data.test()).accuracy();
                log.add(String.format("%d:%.4f", s.round(), acc));
            }
            System.out.println("FedAvg + SecAgg, Dirichlet(0.5), 10 clients: test accuracy per round " + log);
            assertTrue(acc >= 0.84, "after 30 rounds the test accuracy is " + acc + ": " + log);
        }
    }

    @Test
    void twoClientsDroppingAfterMaskingStillGiveTheRightSum() {
        Set<String> late = Set.of("client-03", "client-07");
        try (Sequential m = model(); FederatedSimulation sim = simulation(config().secureAggregation(true).build(), m, null)) {
            sim.dropout((client, round, last) -> late.contains(client) && last == FederatedClient.Step.INPUT_SENT);
            sim.start();
            float[] before = sim.coordinator().weights();
            RoundSummary s = sim.runRound();
            assertTrue(s.completed(), s.reason());
            assertArrayEquals(new int[] {10, 10, 10, 8}, s.secAggSets(), "8 of 10 answered the unmasking request");
            assertEquals(10, s.participants(), "the two late clients' inputs are in the sum");
            Set<String> all = new TreeSet<>();
            sim.clients().forEach(c -> all.add(c.clientId()));
            Map<String, float[]> up = uploads(sim, all);
            double tolerance = CLIENTS / Quantizer.scale(CLIP, CLIENTS) / sumOfWeights(up) + 1e-6;
            double dev = deviationFromMean(before, sim.coordinator().weights(), up);
            assertTrue(dev <= tolerance, "aggregate deviates by " + dev + " > " + tolerance);
            // and not because the update was tiny
            assertTrue(s.updateNorm() > 0.1, "update norm " + s.updateNorm());
        }
    }

    @Test
    void clientsDroppingBeforeMaskingAreLeftOutOfTheSum() {
        Set<String> gone = Set.of("client-01", "client-08");
        try (Sequential m = model(); FederatedSimulation sim = simulation(config().secureAggregation(true).build(), m, null)) {
            sim.dropout((client, round, last) -> gone.contains(client) && last == FederatedClient.Step.KEYS_SHARED);
            sim.start();
            float[] before = sim.coordinator().weights();
            RoundSummary s = sim.runRound();
            assertTrue(s.completed(), s.reason());
            assertArrayEquals(new int[] {10, 10, 8, 8}, s.secAggSets());
            Set<String> survivors = new TreeSet<>();
            sim.clients().forEach(c -> survivors.add(c.clientId()));
            survivors.removeAll(gone);
            Map<String, float[]> up = uploads(sim, survivors);
            double tolerance = CLIENTS / Quantizer.scale(CLIP, CLIENTS) / sumOfWeights(up) + 1e-6;
            assertTrue(deviationFromMean(before, sim.coordinator().weights(), up) <= tolerance);
        }
    }

    static double sumOfWeights(Map<String, float[]> uploads) {
        double w = 0;
        for (float[] v : uploads.values()) {
            w += v[v.length - 1];
        }
        return w;
    }

    @Test
    void maskedAggregateEqualsTheUnmaskedAggregateUpToQuantization() {
        try (Sequential m = model(); FederatedSimulation plain = simulation(config().build(), m, null);
             FederatedSimulation masked = simulation(config().secureAggregation(true).build(), m, null)) {
            plain.start();
            masked.start();
            assertTrue(plain.runRound().completed());
            assertTrue(masked.runRound().completed());
            float[] a = plain.coordinator().weights();
            float[] b = masked.coordinator().weights();
            Set<String> all = new TreeSet<>();
            masked.clients().forEach(c -> all.add(c.clientId()));
            double tolerance = CLIENTS / Quantizer.scale(CLIP, CLIENTS) / sumOfWeights(uploads(masked, all)) + 1e-6;
            double worst = 0;
            double norm = 0;
            for (int i = 0; i < a.length; i++) {
                worst = Math.max(worst, Math.abs(a[i] - b[i]));
                norm += Math.pow(a[i] - m.parameters()[i], 2);
            }
            assertTrue(worst <= tolerance, "masked and plain aggregates differ by " + worst + " > " + tolerance);
            assertTrue(Math.sqrt(norm) > 0.1, "the round changed the model");
        }
    }

    @Test
    void theServerCannotReconstructAnUpdateWithSecureAggregationButCanWithout() {
        for (boolean secure : new boolean[] {true, false}) {
            ServerViewAttack attack = new ServerViewAttack();
            try (Sequential m = model();
                 FederatedSimulation sim = simulation(config().secureAggregation(secure).build(), m, attack)) {
                attack.watch(sim.coordinator());
                sim.start();
                RoundSummary s = sim.runRound();
                assertTrue(s.completed(), s.reason());
                Set<String> all = new TreeSet<>();
                sim.clients().forEach(c -> all.add(c.clientId()));
                Map<String, float[]> truth = uploads(sim, all);
                Map<String, Double> best = attack.attack(truth, m.parameters().length, CLIP);
                System.out.println("reconstruction attack, secure aggregation " + (secure ? "on" : "off") + ": best cosine "
                        + "per client " + best + " (" + attack.messagesSeen() + " messages, " + attack.logLinesSeen()
                        + " log lines)");
                assertTrue(attack.logLinesSeen() > 0, "the log was captured");
                // what the server may learn by design: the sum of the updates (cosine with each client's update)
                int p = m.parameters().length;
                double[] sum = new double[p];
                for (float[] v : truth.values()) {
                    for (int i = 0; i < p; i++) {
                        sum[i] += v[i];
                    }
                }
                for (Map.Entry<String, Double> e : best.entrySet()) {
                    double bySum = Math.abs(ServerViewAttack.cosine(sum, truth.get(e.getKey()), p)); // the attack scores |cosine|
                    if (secure) {
                        // nothing the server saw is closer to a client's update than the sum it is meant to learn
                        assertTrue(e.getValue() <= bySum + 0.01, e.getKey() + ": best cosine " + e.getValue()
                                + " beats the sum's " + bySum);
                        assertTrue(e.getValue() < 0.98, e.getKey() + "'s update was recovered: cosine " + e.getValue());
                    } else {
                        assertTrue(e.getValue() > 0.999, e.getKey() + "'s plain update was not found: cosine " + e.getValue());
                    }
                }
            } finally {
                attack.stop();
            }
        }
    }
}
