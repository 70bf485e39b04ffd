package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import io.dense4j.federated.FederatedClient;
import io.dense4j.federated.privacy.RdpAccountant;
import io.dense4j.registry.RegisterOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A federated task survives its server: task definition, client tokens (hashes), rounds run, privacy spent and the
 * global model come back from the state store and the registry; the round in flight is recorded as lost, charged to
 * the privacy accountant, and the task goes on with the parties it had, one of which kept polling through the
 * restart.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class FederatedRestartTest {
    @TempDir
    Path tmp;

    private static final String SETTINGS = """
            {"rounds": 4, "clients_per_round": 3, "min_clients": 2, "batch_size": 16, "secure_aggregation": true,
             "clip_norm": 5.0, "noise_multiplier": 1.0, "phase_timeout_ms": 10000, "training_timeout_ms": 30000}""";

    private static double epsilon(int rounds) {
        return new RdpAccountant().composePoissonSampledGaussian(1.0, 1.0, rounds).epsilon(1e-5).epsilon();
    }

    @Test
    void aRestartedServerResumesTheTaskWhereItsStoreAndRegistryLeftIt() throws Exception {
        List<Dataset> data = List.of(FederatedFixture.data(40, 1), FederatedFixture.data(50, 2), FederatedFixture.data(45, 3));
        String[] names = {"a", "b", "c"};
        FederatedFixture.Task task;
        int port;
        try (FederatedFixture.Parties first = new FederatedFixture.Parties()) {
            TrainingFixture before = new TrainingFixture(tmp, t -> t);
            port = before.server.port();
            task = FederatedFixture.create(before, TrainingFixture.ADMIN, SETTINGS, "[\"a\", \"b\", \"c\"]");
            for (int i = 0; i < 3; i++) {
                first.add(task.id(), names[i], data.get(i), FederatedFixture.connect(before.base, task.id(),
                        task.token(names[i])), i);
            }
            // a and b leave once round 2 is under way; c polls on through the restart
            first.start(c -> !c.clientId().equals("c") && c.round() == 2
                    && c.lastStep() == FederatedClient.Step.KEYS_ADVERTISED);
            first.threads.get(0).join(60_000);
            first.threads.get(1).join(60_000);
            JsonNode s = FederatedFixture.status(before, TrainingFixture.ADMIN, task.id());
            assertEquals(1, s.get("rounds_run").asInt(), s.toString());
            assertEquals(epsilon(1), s.at("/privacy/epsilon").asDouble(), 1e-9);
            assertEquals(2, s.get("model_version").asInt(), "round 0 and round 1 are registered");
            assertTrue(s.get("phase").asText().startsWith("round 2"), s.get("phase").asText());
            before.close();

            TrainingFixture after = new TrainingFixture(tmp, t -> t, b -> b.port(port));
            try {
                JsonNode r = FederatedFixture.status(after, TrainingFixture.ADMIN, task.id());
                assertEquals("running", r.get("state").asText(), r.toString());
                assertEquals(2, r.get("rounds_run").asInt(), "round 2 was lost with the server: " + r);
                JsonNode lost = r.at("/history/1");
                assertEquals("ABORTED", lost.get("status").asText());
                assertTrue(lost.get("reason").asText().contains("stopped during this round"), lost.toString());
                assertEquals(epsilon(2), r.at("/privacy/epsilon").asDouble(), 1e-9, "the lost round is charged");
                assertEquals(2, r.get("model_version").asInt(), "the global model is round 1's");
                assertTrue(r.get("phase").asText().startsWith("round 3"), r.get("phase").asText());

                // the same tokens work on the restarted server; a and b come back, c never left
                try (FederatedFixture.Parties second = new FederatedFixture.Parties()) {
                    for (int i = 0; i < 2; i++) {
                        second.add(task.id(), names[i], data.get(i), FederatedFixture.connect(after.base, task.id(),
                                task.token(names[i])), 10 + i);
                    }
                    second.start(null);
                    second.join(Duration.ofSeconds(120));
                    first.join(Duration.ofSeconds(30));
                    assertTrue(second.failures.isEmpty() && first.failures.isEmpty(),
                            () -> "client failures: " + second.failures + first.failures);
                }
                JsonNode end = FederatedFixture.status(after, TrainingFixture.ADMIN, task.id());
                assertEquals("finished", end.get("state").asText(), end.toString());
                List<String> statuses = new ArrayList<>();
                end.get("history").forEach(h -> statuses.add(h.get("round").asInt() + ":" + h.get("status").asText()));
                assertEquals(List.of("1:COMPLETED", "2:ABORTED", "3:COMPLETED", "4:COMPLETED"), statuses);
                assertEquals(3, end.at("/history/2/participants").asInt(), "c took part in round 3 after the restart");
                assertEquals(epsilon(4), end.at("/privacy/epsilon").asDouble(), 1e-9);
                String model = end.get("register_as").asText();
                assertEquals(4, after.registry.versions(model).size(), "rounds 0, 1, 3 and 4");
                try (Sequential v3 = Sequential.load(after.registry.modelFile(model, 3))) {
                    Map<?, ?> lineage = (Map<?, ?>) v3.trainingInfo().get("lineage");
                    assertEquals(3, ((Number) lineage.get("round")).intValue());
                    assertEquals(2, ((Number) lineage.get("parent_version")).intValue(), "round 3 continued round 1's model");
                }
            } finally {
                after.close();
            }
        } finally {
            data.forEach(Dataset::close);
        }
    }

    @Test
    void aRoundRegisteredButNotRecordedBeforeACrashIsAdoptedNotLost() throws Exception {
        FederatedFixture.Task task;
        List<Dataset> data = List.of(FederatedFixture.data(40, 1), FederatedFixture.data(50, 2), FederatedFixture.data(45, 3));
        String model;
        try (TrainingFixture before = new TrainingFixture(tmp, t -> t);
             FederatedFixture.Parties parties = new FederatedFixture.Parties()) {
            task = FederatedFixture.create(before, TrainingFixture.ADMIN, SETTINGS, "[\"a\", \"b\", \"c\"]");
            String[] names = {"a", "b", "c"};
            for (int i = 0; i < 3; i++) {
                parties.add(task.id(), names[i], data.get(i), FederatedFixture.connect(before.base, task.id(),
                        task.token(names[i])), i);
            }
            parties.start(c -> c.round() == 2);
            parties.join(Duration.ofSeconds(60));
            model = FederatedFixture.status(before, TrainingFixture.ADMIN, task.id()).get("register_as").asText();
        }
        // what a server dying between "register round 2's model" and "record round 2" leaves: a version the store
        // does not know (made here from round 1's model, its lineage saying round 2)
        Path file = tmp.resolve("round2.d4j");
        var registry = io.dense4j.registry.ModelRegistry.open(tmp.resolve("registry"));
        try (Sequential m = Sequential.load(registry.modelFile(model, 2))) {
            @SuppressWarnings("unchecked")
            Map<String, Object> lineage = new LinkedHashMap<>((Map<String, Object>) m.trainingInfo().get("lineage"));
            @SuppressWarnings("unchecked")
            Map<String, Object> summary = new LinkedHashMap<>((Map<String, Object>) lineage.get("summary"));
            summary.put("round", 2);
            summary.put("epsilon", epsilon(2));
            lineage.put("round", 2);
            lineage.put("summary", summary);
            m.trainingInfo().put("lineage", lineage);
            m.save(file);
        }
        registry.register(model, file, RegisterOptions.defaults().source("federated:" + task.id() + "/round/2"));
        try (TrainingFixture after = new TrainingFixture(tmp, t -> t)) {
            JsonNode r = FederatedFixture.status(after, TrainingFixture.ADMIN, task.id());
            List<String> statuses = new ArrayList<>();
            r.get("history").forEach(h -> statuses.add(h.get("round").asInt() + ":" + h.get("status").asText()));
            assertEquals(List.of("1:COMPLETED", "2:COMPLETED", "3:ABORTED"), statuses, r.toString());
            assertEquals(3, r.at("/history/1/model_version").asInt(), "round 2 is the version found in the registry");
            assertEquals(3, r.get("model_version").asInt());
            assertEquals(3, r.get("rounds_run").asInt());
            assertEquals(epsilon(3), r.at("/privacy/epsilon").asDouble(), 1e-9);
            assertEquals(3, after.registry.versions(model).size(), "nothing was registered twice");
        } finally {
            data.forEach(Dataset::close);
        }
    }
}
