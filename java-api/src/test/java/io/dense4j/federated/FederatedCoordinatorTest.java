package io.dense4j.federated;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.federated.privacy.RdpAccountant;
import io.dense4j.federated.protocol.Limits;
import io.dense4j.federated.protocol.Message;
import io.dense4j.federated.protocol.Message.Envelope;
import io.dense4j.federated.protocol.MessageCodec;
import io.dense4j.federated.protocol.ProtocolException;
import io.dense4j.federated.protocol.ProtocolException.Code;
import io.dense4j.federated.protocol.TrainingPlan;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** The coordinator's rounds, aggregation, sampling, privacy budget and its refusals, on a tiny model. */
class FederatedCoordinatorTest {
    static final int[] SIZES = {31, 33, 60, 45, 80};

    static FederatedConfig.Builder base() {
        return FederatedConfig.builder().rounds(3).clientsPerRound(SIZES.length).minClients(2).localEpochs(2).batchSize(8)
                .exampleWeightCap(50).samplingSeed(5L);
    }

    /** Σ w_k Δ_k / Σ w_k in float64 from what the clients computed. */
    static double[] expectedMean(FederatedSimulation sim, TrainingPlan plan, Set<String> who) {
        double[] sum = null;
        double weight = 0;
        for (FederatedClient c : sim.clients()) {
            if (!who.contains(c.clientId())) {
                continue;
            }
            LocalTrainer.Result r = c.lastTraining();
            float[] v = LocalTrainer.uploadVector(r.delta(), r.examples(), plan);
            if (sum == null) {
                sum = new double[r.delta().length];
            }
            for (int i = 0; i < sum.length; i++) {
                sum[i] += v[i];
            }
            weight += plan.uniformWeights() ? 1 : v[sum.length];
        }
        for (int i = 0; i < sum.length; i++) {
            sum[i] /= weight;
        }
        return sum;
    }

    static Set<String> ids(FederatedSimulation sim) {
        Set<String> s = new TreeSet<>();
        sim.clients().forEach(c -> s.add(c.clientId()));
        return s;
    }

    @Test
    void plainRoundAppliesTheExampleWeightedMean() {
        try (TinyTask t = new TinyTask(SIZES); FederatedSimulation sim = t.simulation(base().build(), null)) {
            sim.start();
            float[] before = sim.coordinator().weights();
            RoundSummary s = sim.runRound();
            assertTrue(s.completed(), s.reason());
            assertEquals(5, s.participants());
            double[] mean = expectedMean(sim, sim.coordinator().config().plan(), ids(sim));
            float[] after = sim.coordinator().weights();
            for (int i = 0; i < mean.length; i++) {
                assertEquals(before[i] + mean[i], after[i], 1e-6, "parameter " + i);
            }
            // sizes 60 and 80 are capped at 50: weights 31/50, 33/50, 1, 45/50, 1
            assertEquals(31, sim.clients().get(0).lastTraining().examples());
            assertTrue(s.bytesUp() > 5 * 4 * after.length && s.bytesDown() > 5 * 4 * after.length, "weights went both ways");
        }
    }

    @Test
    void securelyAggregatedRoundEqualsThePlainOneUpToQuantization() {
        FederatedConfig plain = base().clipNorm(5).build();
        FederatedConfig secure = base().clipNorm(5).secureAggregation(true).build();
        try (TinyTask t = new TinyTask(SIZES); FederatedSimulation a = t.simulation(plain, null);
             FederatedSimulation b = t.simulation(secure, null)) {
            a.start();
            b.start();
            for (int round = 0; round < 2; round++) {
                assertTrue(a.runRound().completed());
                RoundSummary sb = b.runRound();
                assertTrue(sb.completed(), sb.reason());
                assertArrayEquals(new int[] {5, 5, 5, 5}, sb.secAggSets());
                float[] wa = a.coordinator().weights();
                float[] wb = b.coordinator().weights();
                // each of 5 quantized coordinates errs by < 1/scale; the sum is divided by the summed weight (>= 3.18)
                double scale = io.dense4j.federated.secagg.Quantizer.scale(5, 5);
                double bound = (round + 1) * (5 / scale / 3.18 + 1e-6);
                double worst = 0;
                for (int i = 0; i < wa.length; i++) {
                    worst = Math.max(worst, Math.abs(wa[i] - wb[i]));
                }
                assertTrue(worst <= bound, "round " + round + ": masked and plain aggregates differ by " + worst
                        + " > " + bound);
                // and they are not trivially equal because nothing happened
                assertTrue(sb.updateNorm() > 1e-3);
            }
        }
    }

    /**
     * Masked inputs cannot be checked one by one: a client that puts a negative weight in its masked input to cancel
     * the others' made the summed weight tiny and the step 10^7 times the honest mean (found by an attack on the
     * server). The summed weight must be what 5 honest clients can weigh, and the mean within the clip norm.
     */
    @Test
    void underSecureAggregationAClientCannotCancelTheOthersWeights() {
        // the honest clients' weights with cap 50: 33/50 + 1 + 45/50 + 1
        double honest = 33 / 50.0 + 1 + 45 / 50.0 + 1;
        for (double left : new double[] {1e-6, 5 / 50.0 + 0.01}) { // far below the least weight; just above it
            FederatedConfig secure = base().clipNorm(5).secureAggregation(true).build();
            try (TinyTask t = new TinyTask(SIZES); FederatedSimulation sim = t.simulation(secure, null)) {
                FederatedClient attacker = sim.clients().get(0);
                attacker.tamperUpload(v -> {
                    float[] out = new float[v.length]; // no change of its own; its weight cancels the others'
                    out[v.length - 1] = (float) (left - honest);
                    return out;
                });
                sim.start();
                float[] before = sim.coordinator().weights();
                RoundSummary s = sim.runRound();
                assertFalse(s.completed(), "left " + left + ": " + s.updateNorm());
                assertTrue(s.reason().contains("summed weight") || s.reason().contains("above the clip norm"), s.reason());
                assertArrayEquals(before, sim.coordinator().weights(), "the round is not applied");
            }
        }
        // the same clients without the attack: the round completes (the bounds do not refuse honest rounds)
        try (TinyTask t = new TinyTask(SIZES);
             FederatedSimulation sim = t.simulation(base().clipNorm(5).secureAggregation(true).build(), null)) {
            sim.start();
            RoundSummary s = sim.runRound();
            assertTrue(s.completed(), s.reason());
        }
    }

    @Test
    void tooFewSurvivorsAbortTheRoundAndKeepTheModel() {
        FederatedConfig c = base().minClients(4).build();
        try (TinyTask t = new TinyTask(SIZES); FederatedSimulation sim = t.simulation(c, null)) {
            sim.dropout((client, round, last) -> !client.equals("client-00") && !client.equals("client-01"));
            sim.start();
            float[] before = sim.coordinator().weights();
            RoundSummary s = sim.runRound();
            assertEquals("ABORTED", s.status());
            assertTrue(s.reason().contains("2 updates arrived, min clients is 4"), s.reason());
            assertArrayEquals(before, sim.coordinator().weights());
            assertEquals(2, sim.coordinator().round(), "the next round started");
        }
    }

    // ---------------------------------------------------------------------------------- hostile messages

    /** Records the frames each client sent. */
    static final class Recorder implements InMemoryTransport.Tap {
        final List<String> clients = new ArrayList<>();
        final List<byte[]> requests = new ArrayList<>();

        @Override
        public synchronized void exchanged(String client, byte[] request, byte[] response, ProtocolException refused) {
            clients.add(client);
            requests.add(request);
        }

        byte[] last(String client, String type) {
            for (int i = requests.size() - 1; i >= 0; i--) {
                if (clients.get(i).equals(client) && MessageCodec.decode(requests.get(i), Limits.DEFAULT).type().equals(type)) {
                    return requests.get(i);
                }
            }
            throw new AssertionError("no " + type + " from " + client);
        }
    }

    static ProtocolException refused(FederatedCoordinator c, String client, byte[] frame) {
        return assertThrows(ProtocolException.class, () -> c.handle(client, frame));
    }

    static Message.RoundTask task(FederatedCoordinator c, String client) {
        byte[] poll = MessageCodec.encode(new Message.Poll(new Envelope("tiny", client, -1, new byte[0], new byte[16])));
        return (Message.RoundTask) MessageCodec.decode(c.handle(client, poll), Limits.DEFAULT);
    }

    static byte[] update(String task, String client, long round, byte[] nonce, byte[] messageId, float[] v) {
        return MessageCodec.encode(new Message.Update(new Envelope(task, client, round, nonce, messageId), v));
    }

    @Test
    void replayedTamperedAndForeignMessagesAreRefusedAndChangeNothing() {
        Recorder rec = new Recorder();
        FederatedConfig cfg = base().clipNorm(3).build();
        try (TinyTask t = new TinyTask(SIZES); FederatedSimulation sim = t.simulation(cfg, rec)) {
            FederatedCoordinator c = sim.coordinator();
            sim.start();
            assertTrue(sim.runRound().completed());
            byte[] oldUpdate = rec.last("client-00", "update");
            float[] afterRound1 = c.weights();

            // round 2: a replay of round 1's update
            ProtocolException e = refused(c, "client-00", oldUpdate);
            assertEquals(Code.WRONG_STATE, e.code());
            assertTrue(e.getMessage().contains("message for round 1, the current round is 2"), e.getMessage());

            Message.RoundTask rt = task(c, "client-00");
            int p = c.weights().length;
            float[] ok = new float[p + 1];
            ok[0] = 0.5f;
            ok[p] = 0.5f;
            byte[] id = new byte[16];
            id[0] = 1;
            // the right round with a wrong nonce (e.g. guessed)
            byte[] wrongNonce = rt.roundNonce().clone();
            wrongNonce[3] ^= 1;
            assertEquals(Code.FORBIDDEN, refused(c, "client-00", update("tiny", "client-00", 2, wrongNonce, id, ok)).code());
            // another client's message over this client's connection (its token)
            e = refused(c, "client-01", update("tiny", "client-00", 2, rt.roundNonce(), id, ok));
            assertEquals(Code.FORBIDDEN, e.code());
            assertTrue(e.getMessage().contains("names client client-00 but comes from client-01"), e.getMessage());
            // not enrolled, other task
            assertEquals(Code.FORBIDDEN, refused(c, "mallory", update("tiny", "mallory", 2, rt.roundNonce(), id, ok)).code());
            assertEquals(Code.NOT_FOUND, refused(c, "client-00", update("other", "client-00", 2, rt.roundNonce(), id, ok)).code());
            // oversized (beyond the task's limits: refused before decoding the vector), wrong length, NaN, norm, weight
            assertEquals(Code.TOO_LARGE, refused(c, "client-00", update("tiny", "client-00", 2, rt.roundNonce(), id,
                    new float[p + 2])).code());
            assertEquals(Code.BAD_MESSAGE, refused(c, "client-00", update("tiny", "client-00", 2, rt.roundNonce(), id,
                    new float[p])).code());
            float[] nan = ok.clone();
            nan[7] = Float.NaN;
            assertEquals(Code.BAD_MESSAGE, refused(c, "client-00", update("tiny", "client-00", 2, rt.roundNonce(), id, nan)).code());
            float[] big = ok.clone();
            big[1] = 3.5f;
            e = refused(c, "client-00", update("tiny", "client-00", 2, rt.roundNonce(), id, big));
            assertTrue(e.getMessage().contains("exceeds the clip norm 3.0"), e.getMessage());
            float[] heavy = ok.clone();
            heavy[p] = 2f;
            assertEquals(Code.BAD_MESSAGE, refused(c, "client-00", update("tiny", "client-00", 2, rt.roundNonce(), id, heavy)).code());
            byte[] garbage = "GET / HTTP/1.1\r\n\r\n".getBytes();
            assertEquals(Code.BAD_MESSAGE, refused(c, "client-00", garbage).code());
            assertArrayEquals(afterRound1, c.weights(), "refused messages changed nothing");

            // accepted once; the same message again (a retry) is acknowledged; another one for the slot is a duplicate
            byte[] good = update("tiny", "client-00", 2, rt.roundNonce(), id, ok);
            assertTrue(MessageCodec.decode(c.handle("client-00", good), Limits.DEFAULT) instanceof Message.Accepted);
            assertTrue(MessageCodec.decode(c.handle("client-00", good), Limits.DEFAULT) instanceof Message.Accepted);
            byte[] id2 = id.clone();
            id2[0] = 2;
            assertEquals(Code.DUPLICATE, refused(c, "client-00", update("tiny", "client-00", 2, rt.roundNonce(), id2, ok)).code());

            // the rest of the round: the hand-made update counted once
            sim.dropout((client, round, last) -> client.equals("client-00"));
            float[] before = c.weights();
            RoundSummary s = sim.runRound();
            assertTrue(s.completed());
            assertEquals(5, s.participants());
            Set<String> others = ids(sim);
            others.remove("client-00");
            double[] sum = new double[p];
            double w = 0.5;
            sum[0] = 0.5;
            for (FederatedClient fc : sim.clients()) {
                if (others.contains(fc.clientId())) {
                    float[] v = LocalTrainer.uploadVector(fc.lastTraining().delta(), fc.lastTraining().examples(), cfg.plan());
                    for (int i = 0; i < p; i++) {
                        sum[i] += v[i];
                    }
                    w += v[p];
                }
            }
            float[] after = c.weights();
            for (int i = 0; i < p; i++) {
                assertEquals(before[i] + sum[i] / w, after[i], 1e-6);
            }
        }
    }

    @Test
    void secureAggregationTasksRefusePlainUpdates() {
        try (TinyTask t = new TinyTask(SIZES);
             FederatedSimulation sim = t.simulation(base().clipNorm(3).secureAggregation(true).build(), null)) {
            sim.start();
            Message.RoundTask rt = task(sim.coordinator(), "client-02");
            ProtocolException e = refused(sim.coordinator(), "client-02", update("tiny", "client-02", 1, rt.roundNonce(),
                    new byte[16], new float[sim.coordinator().weights().length + 1]));
            assertTrue(e.getMessage().contains("uses secure aggregation"), e.getMessage());
            assertTrue(sim.runRound().completed());
        }
    }

    // ---------------------------------------------------------------------------------- sampling and privacy

    @Test
    void clientsAreSampledByIndependentCoinFlips() {
        List<String> clients = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            clients.add("c" + i);
        }
        int rounds = 3000;
        FederatedConfig cfg = FederatedConfig.builder().rounds(rounds).clientsPerRound(10).minClients(1).samplingSeed(42L).build();
        FederatedCoordinator c = new FederatedCoordinator("s", cfg, Map.of("class", "Sequential", "layers", List.of()),
                new float[4], clients, new SecureRandom(), Clock.systemUTC());
        assertEquals(0.2, c.samplingRate());
        Map<String, Integer> times = new java.util.HashMap<>();
        java.util.logging.Logger log = java.util.logging.Logger.getLogger("io.dense4j.federated");
        java.util.logging.Level level = log.getLevel();
        log.setLevel(java.util.logging.Level.WARNING); // 3000 aborted rounds would each log a line
        try {
            c.start();
            drive(c, times);
        } finally {
            log.setLevel(level);
        }
        double sum = 0;
        double sumSq = 0;
        for (RoundSummary s : c.history()) {
            sum += s.selected();
            sumSq += (double) s.selected() * s.selected();
        }
        double mean = sum / rounds;
        double var = sumSq / rounds - mean * mean;
        // Binomial(50, 0.2): mean 10, variance 8 (a fixed-size sample would have variance 0)
        assertEquals(10, mean, 4 * Math.sqrt(8.0 / rounds));
        assertEquals(8, var, 1.0);
        for (String client : clients) {
            int k = times.getOrDefault(client, 0);
            // rounds with fewer than min clients also sample; each client's rate is q
            assertEquals(0.2 * rounds, k, 5 * Math.sqrt(rounds * 0.2 * 0.8), client);
        }
    }

    /** Closes every round unanswered (it aborts and the next is sampled), counting who was selected. */
    static void drive(FederatedCoordinator c, Map<String, Integer> times) {
        while (!c.finished()) {
            for (String s : c.selected()) {
                times.merge(s, 1, Integer::sum);
            }
            c.closePhase();
        }
    }

    @Test
    void epsilonIsReportedPerRoundAndTheBudgetStopsTheTask() {
        double z = 1.1;
        double q = 1.0;
        RdpAccountant ref = new RdpAccountant();
        double[] eps = new double[6];
        for (int r = 1; r <= 5; r++) {
            eps[r] = ref.composePoissonSampledGaussian(q, z, 1).epsilon(1e-5).epsilon();
        }
        double budget = (eps[3] + eps[4]) / 2; // room for 3 rounds, not 4
        FederatedConfig cfg = base().rounds(10).clipNorm(1).noiseMultiplier(z).epsilonBudget(budget).build();
        try (TinyTask t = new TinyTask(SIZES); FederatedSimulation sim = t.simulation(cfg, null)) {
            sim.start();
            List<RoundSummary> rounds = new ArrayList<>();
            RoundSummary s;
            while ((s = sim.runRound()) != null) {
                rounds.add(s);
            }
            assertEquals(3, rounds.size());
            for (int r = 1; r <= 3; r++) {
                assertEquals(eps[r], rounds.get(r - 1).epsilon(), 1e-9, "round " + r);
            }
            assertTrue(sim.coordinator().finishedReason().startsWith("privacy budget"), sim.coordinator().finishedReason());
            assertTrue(sim.coordinator().epsilon() <= budget);
            for (FederatedClient c : sim.clients()) {
                assertEquals(FederatedClient.Step.FINISHED, c.step());
            }
        }
    }

    @Test
    void dpNoiseHasTheCalibratedScale() {
        // with a huge noise multiplier the update is essentially the noise N(0, (zS)^2) per coordinate / (qK); a tiny
        // server learning rate keeps the model trainable across rounds. Over R rounds of P coordinates the mean
        // squared coordinate estimates the variance with relative std sqrt(2 / (P R)) (2.9% here); 15% is 5 sigma.
        double z = 1000;
        double s = 0.5;
        double lr = 1e-6;
        int rounds = 40;
        FederatedConfig cfg = base().rounds(rounds).clipNorm(s).noiseMultiplier(z).serverLearningRate(lr).build();
        try (TinyTask t = new TinyTask(SIZES); FederatedSimulation sim = t.simulation(cfg, null)) {
            sim.start();
            int p = sim.coordinator().weights().length;
            double sumSq = 0;
            RoundSummary r;
            while ((r = sim.runRound()) != null) {
                assertTrue(r.completed(), r.reason());
                sumSq += Math.pow(r.updateNorm() / lr, 2);
            }
            double variance = sumSq / (rounds * p);
            double expected = Math.pow(z * s / SIZES.length, 2);
            assertEquals(expected, variance, expected * 0.15, "noise variance per coordinate of the mean");
        }
    }

    @Test
    void configRoundTripsThroughJsonAndRefusesInconsistentSettings() throws Exception {
        FederatedConfig c = base().secureAggregation(true).clipNorm(1.5).noiseMultiplier(0.8).epsilonBudget(8).proxMu(0.01)
                .build();
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        @SuppressWarnings("unchecked")
        Map<String, Object> back = json.readValue(json.writeValueAsString(c.toMap()), Map.class);
        assertEquals(c, FederatedConfig.fromMap(back));
        assertNotNull(FederatedConfig.fromMap(Map.of()));
        record Bad(FederatedConfig.Builder b, String expected) {}
        for (Bad bad : List.of(
                new Bad(base().secureAggregation(true), "secure aggregation needs a clip norm"),
                new Bad(base().noiseMultiplier(1), "differential privacy needs a clip norm"),
                new Bad(base().epsilonBudget(3), "needs noise"),
                new Bad(base().minClients(9), "min clients"),
                new Bad(base().secAggThreshold(0.4).clipNorm(1).secureAggregation(true), "threshold"),
                new Bad(base().delta(0), "delta"))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, bad.b()::build);
            assertTrue(e.getMessage().contains(bad.expected()), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> FederatedConfig.fromMap(Map.of("rounds", "ten")));
        assertThrows(IllegalArgumentException.class, () -> FederatedConfig.fromMap(Map.of("roundz", 3)));
    }
}
