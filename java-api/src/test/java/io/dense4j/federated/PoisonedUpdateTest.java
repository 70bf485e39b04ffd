package io.dense4j.federated;

import static io.dense4j.federated.FederatedCoordinatorTest.base;
import static io.dense4j.federated.FederatedCoordinatorTest.refused;
import static io.dense4j.federated.FederatedCoordinatorTest.task;
import static io.dense4j.federated.FederatedCoordinatorTest.update;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.federated.protocol.Limits;
import io.dense4j.federated.protocol.Message;
import io.dense4j.federated.protocol.MessageCodec;
import io.dense4j.federated.protocol.ProtocolException;
import io.dense4j.federated.protocol.ProtocolException.Code;
import io.dense4j.federated.protocol.TrainingPlan;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * One client (client-00, the attacker) sends a huge but finite update without clipping (clip_norm 0): what each
 * of the operator's bounds does with it. The honest clients train for real; every expectation is computed here in
 * float64 from what they uploaded.
 */
class PoisonedUpdateTest {
    static final int[] SIZES = {31, 33, 60, 45, 80};
    static final String ATTACKER = "client-00";

    /** Round 1 with the attacker's hand-made update (every parameter {@code value}, weight {@code weight}). */
    static RoundSummary attackedRound(FederatedSimulation sim, float value, float weight, boolean expectRefusal) {
        FederatedCoordinator c = sim.coordinator();
        sim.dropout((client, round, last) -> client.equals(ATTACKER));
        sim.start();
        Message.RoundTask rt = task(c, ATTACKER);
        int p = c.weights().length;
        float[] poison = new float[p + 1];
        Arrays.fill(poison, 0, p, value);
        poison[p] = weight;
        byte[] frame = update("tiny", ATTACKER, 1, rt.roundNonce(), new byte[16], poison);
        if (expectRefusal) {
            ProtocolException e = refused(c, ATTACKER, frame);
            assertEquals(Code.BAD_MESSAGE, e.code());
            assertTrue(e.getMessage().contains("above this task's max update norm"), e.getMessage());
        } else {
            assertTrue(MessageCodec.decode(c.handle(ATTACKER, frame), Limits.DEFAULT) instanceof Message.Accepted);
        }
        return sim.runRound();
    }

    /** Each honest client's own model change Δ_k (its upload divided by its weight), in float64. */
    static List<double[]> honestChanges(FederatedSimulation sim, TrainingPlan plan) {
        List<double[]> out = new ArrayList<>();
        for (FederatedClient fc : sim.clients()) {
            if (fc.clientId().equals(ATTACKER)) {
                continue;
            }
            float[] v = LocalTrainer.uploadVector(fc.lastTraining().delta(), fc.lastTraining().examples(), plan);
            int p = fc.lastTraining().delta().length;
            double[] d = new double[p];
            for (int i = 0; i < p; i++) {
                d[i] = v[i] / (double) v[p];
            }
            out.add(d);
        }
        return out;
    }

    @Test
    void underThePlainMeanAHugeUpdateDragsTheModelWhichIsWhyTheBoundsExist() {
        try (TinyTask t = new TinyTask(SIZES); FederatedSimulation sim = t.simulation(base().build(), null)) {
            float[] before = sim.coordinator().weights();
            RoundSummary s = attackedRound(sim, 1e30f, 1f, false);
            assertTrue(s.completed(), s.reason());
            float[] after = sim.coordinator().weights();
            assertTrue(Math.abs(after[0] - before[0]) > 1e29, "FedAvg's mean follows the attacker: " + after[0]);
        }
    }

    @Test
    void aRoundWhoseResultAFloatCannotHoldIsNotAppliedAndSaysWhy() {
        // 3e38 per weight is finite; times the server learning rate over the summed weight it is not
        try (TinyTask t = new TinyTask(SIZES);
             FederatedSimulation sim = t.simulation(base().serverLearningRate(10).build(), null)) {
            float[] before = sim.coordinator().weights();
            RoundSummary s = attackedRound(sim, 3e38f, 1f, false);
            assertEquals("ABORTED", s.status());
            assertTrue(s.reason().contains("not finite") && s.reason().contains("global model stays as it was"), s.reason());
            assertArrayEquals(before, sim.coordinator().weights());
            assertEquals(2, sim.coordinator().round(), "the task goes on with the next round");
        }
    }

    @Test
    void anUpdateAboveTheMaxUpdateNormIsRefusedAndTheRoundAveragesTheOthers() {
        FederatedConfig cfg = base().maxUpdateNorm(50).build();
        try (TinyTask t = new TinyTask(SIZES); FederatedSimulation sim = t.simulation(cfg, null)) {
            float[] before = sim.coordinator().weights();
            // a small vector with a tiny claimed weight is a huge model change: the bound is on the change
            RoundSummary s = attackedRound(sim, 0.5f, 1e-3f, true);
            assertTrue(s.completed(), s.reason());
            assertEquals(4, s.participants(), "the round closed with the other four, without waiting for a deadline");
            assertEquals(1, s.updatesRefused());
            // the summary keeps the count through its stored form; one stored before the count existed reads as 0
            java.util.Map<String, Object> stored = new java.util.LinkedHashMap<>(s.toMap());
            assertEquals(1, RoundSummary.fromMap(stored).updatesRefused());
            stored.remove("updates_refused");
            assertEquals(0, RoundSummary.fromMap(stored).updatesRefused());
            List<double[]> honest = honestChanges(sim, cfg.plan());
            double[] weights = new double[honest.size()];
            int k = 0;
            for (FederatedClient fc : sim.clients()) {
                if (!fc.clientId().equals(ATTACKER)) {
                    weights[k++] = Math.min(fc.lastTraining().examples(), 50) / 50.0;
                }
            }
            double total = Arrays.stream(weights).sum();
            float[] after = sim.coordinator().weights();
            for (int i = 0; i < after.length; i++) {
                double mean = 0;
                for (int j = 0; j < honest.size(); j++) {
                    mean += weights[j] * honest.get(j)[i] / total;
                }
                assertEquals(before[i] + mean, after[i], 1e-6, "parameter " + i);
            }
            assertEquals(2, sim.coordinator().round());
        }
    }

    @Test
    void theRefusedClientIsToldItWasLeftOutAndCannotSendAnother() {
        FederatedConfig cfg = base().maxUpdateNorm(50).build();
        try (TinyTask t = new TinyTask(SIZES); FederatedSimulation sim = t.simulation(cfg, null)) {
            FederatedCoordinator c = sim.coordinator();
            sim.start();
            Message.RoundTask rt = task(c, ATTACKER);
            int p = c.weights().length;
            float[] poison = new float[p + 1];
            Arrays.fill(poison, 0, p, 1e30f);
            poison[p] = 1f;
            refused(c, ATTACKER, update("tiny", ATTACKER, 1, rt.roundNonce(), new byte[16], poison));
            byte[] poll = MessageCodec.encode(new Message.Poll(new Message.Envelope("tiny", ATTACKER, -1, new byte[0],
                    new byte[16])));
            Message answer = MessageCodec.decode(c.handle(ATTACKER, poll), Limits.DEFAULT);
            assertTrue(answer instanceof Message.RoundOver, "a refused client is told: " + answer);
            float[] small = new float[p + 1];
            small[0] = 0.1f;
            small[p] = 1f;
            byte[] id = new byte[16];
            id[0] = 7;
            assertEquals(Code.DUPLICATE, refused(c, ATTACKER, update("tiny", ATTACKER, 1, rt.roundNonce(), id, small)).code());
        }
    }

    @Test
    void theMedianStaysWithinTheHonestUpdates() {
        FederatedConfig cfg = base().minClients(3).aggregator(FederatedConfig.Aggregator.MEDIAN).build();
        try (TinyTask t = new TinyTask(SIZES); FederatedSimulation sim = t.simulation(cfg, null)) {
            float[] before = sim.coordinator().weights();
            RoundSummary s = attackedRound(sim, 1e30f, 1e-4f, false);
            assertTrue(s.completed(), s.reason());
            assertEquals(5, s.participants());
            List<double[]> honest = honestChanges(sim, cfg.plan());
            float[] after = sim.coordinator().weights();
            for (int i = 0; i < after.length; i++) {
                // five values, the attacker's the largest: the median is the honest ones' third smallest
                double[] column = new double[honest.size()];
                for (int j = 0; j < honest.size(); j++) {
                    column[j] = honest.get(j)[i];
                }
                Arrays.sort(column);
                assertEquals(before[i] + column[2], after[i], 1e-6, "parameter " + i);
            }
        }
    }

    @Test
    void theTrimmedMeanDropsTheAttackerAndTheSmallestValue() {
        FederatedConfig cfg = base().minClients(3).aggregator(FederatedConfig.Aggregator.TRIMMED_MEAN).trimFraction(0.2).build();
        try (TinyTask t = new TinyTask(SIZES); FederatedSimulation sim = t.simulation(cfg, null)) {
            float[] before = sim.coordinator().weights();
            RoundSummary s = attackedRound(sim, -3e38f, 1f, false);
            assertTrue(s.completed(), s.reason());
            List<double[]> honest = honestChanges(sim, cfg.plan());
            float[] after = sim.coordinator().weights();
            for (int i = 0; i < after.length; i++) {
                double[] column = new double[honest.size()];
                for (int j = 0; j < honest.size(); j++) {
                    column[j] = honest.get(j)[i];
                }
                Arrays.sort(column); // with the attacker's -3e38 below them, ⌊0.2·5⌋ = 1 is cut at each end
                double trimmed = (column[0] + column[1] + column[2]) / 3;
                assertEquals(before[i] + trimmed, after[i], 1e-6, "parameter " + i);
            }
        }
    }

    /**
     * Few updates: the trimmed mean drops at least one value at each end (⌊0.2·4⌋ = 0 dropped none, and one client of
     * four moved every coordinate 250 times the honest change); fewer than 3 updates are refused (their median and
     * trimmed mean are their mean).
     */
    @Test
    void theTrimmedMeanOfFewUpdatesStillDropsTheOutlier() {
        List<float[]> four = List.of(new float[] {0.01f, 1f}, new float[] {0.02f, 1f}, new float[] {0.03f, 1f},
                new float[] {1000f, 1f});
        double[] w = {1, 1, 1, 1};
        double[] trimmed = CoordinateWise.aggregate(FederatedConfig.Aggregator.TRIMMED_MEAN, 0.2, four, w, 1);
        assertEquals(0.025, trimmed[0], 1e-6, "0.02 and 0.03 are left");
        double[] median = CoordinateWise.aggregate(FederatedConfig.Aggregator.MEDIAN, 0.2, four, w, 1);
        assertEquals(0.025, median[0], 1e-6);
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> CoordinateWise.aggregate(FederatedConfig.Aggregator.MEDIAN, 0.2, four.subList(2, 4), w, 1));
        assertTrue(e.getMessage().contains("at least 3"), e.getMessage());
    }

    @Test
    void aggregatorsAndBoundsAreSavedWithTheConfigAndRefusedWhereTheyCannotWork() throws Exception {
        FederatedConfig c = base().minClients(3).aggregator(FederatedConfig.Aggregator.TRIMMED_MEAN).trimFraction(0.3)
                .maxUpdateNorm(12.5).build();
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        @SuppressWarnings("unchecked")
        java.util.Map<String, Object> back = json.readValue(json.writeValueAsString(c.toMap()), java.util.Map.class);
        assertEquals("trimmed_mean", back.get("aggregator"));
        assertEquals(c, FederatedConfig.fromMap(back));
        assertEquals(FederatedConfig.Aggregator.MEAN, FederatedConfig.fromMap(java.util.Map.of()).aggregator());
        record Bad(FederatedConfig.Builder b, String expected) {}
        for (Bad bad : List.of(
                new Bad(base().minClients(3).aggregator(FederatedConfig.Aggregator.MEDIAN).clipNorm(1).secureAggregation(true),
                        "cannot run with secure aggregation"),
                new Bad(base().minClients(3).aggregator(FederatedConfig.Aggregator.MEDIAN).clipNorm(1).noiseMultiplier(1),
                        "cannot run with differential privacy"),
                new Bad(base().minClients(2).aggregator(FederatedConfig.Aggregator.MEDIAN), "needs min clients >= 3"),
                new Bad(base().minClients(2).aggregator(FederatedConfig.Aggregator.TRIMMED_MEAN), "needs min clients >= 3"),
                new Bad(base().trimFraction(0.5), "trim fraction"),
                new Bad(base().serverLearningRate(1e300), "server learning rate must be at most 100"),
                new Bad(base().phaseTimeout(java.time.Duration.ofMillis(1L << 62)), "phase timeout must be at most 7 days"),
                new Bad(base().trainingTimeout(java.time.Duration.ofDays(8)), "training timeout must be at most 7 days"),
                new Bad(base().maxUpdateNorm(-1), "max update norm"),
                new Bad(base().maxUpdateNorm(Double.POSITIVE_INFINITY), "max update norm"),
                new Bad(base().maxUpdateNorm(3).clipNorm(1).secureAggregation(true), "max update norm"))) {
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    bad.b()::build);
            assertTrue(e.getMessage().contains(bad.expected()), e.getMessage());
        }
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> FederatedConfig.fromMap(java.util.Map.of("aggregator", "krum")));
        assertTrue(e.getMessage().contains("mean, median, trimmed_mean"), e.getMessage());
    }
}
