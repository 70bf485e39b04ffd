package io.dense4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import io.dense4j.data.Mnist;
import io.dense4j.federated.DirichletPartitioner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The acceptance run over the wire: three parties, each a separate {@code dense4j federated join} JVM with its
 * own Dirichlet(0.5) share of the real Fashion-MNIST training set on its own disk, train the reference model (784-128
 * relu-10 softmax, Adam 1e-3, batch 32, one local epoch) with secure aggregation against a server on loopback. The
 * test evaluates every round's registered global model on the 10000 test images and, once one reaches 84% (it must
 * within 30 rounds), cancels the task: the parties are told, and exit cleanly. Skipped, saying why, without the data.
 */
@Timeout(value = 420, unit = TimeUnit.SECONDS)
class FederatedFashionMnistProcessesTest {
    static final Path FASHION = Path.of("/usr/share/datasets/fashion-mnist");
    private static final String[] PARTIES = {"north", "south", "east"};

    @TempDir
    Path tmp;

    @Test
    void threeClientJvmsReach84PercentOnNonIidFashionMnistWithSecureAggregation() throws Exception {
        assumeTrue(Files.isDirectory(FASHION), "Fashion-MNIST is not installed at " + FASHION);
        try (Mnist.Data data = Mnist.load(FASHION); TrainingFixture f = new TrainingFixture(tmp.resolve("server"), t -> t)) {
            int[][] parts = DirichletPartitioner.partition(data.train().labels().toIntArray(), PARTIES.length, 0.5, 100, 7);
            List<Path> shards = new ArrayList<>();
            for (int p = 0; p < PARTIES.length; p++) {
                try (Dataset share = data.train().subset(parts[p])) {
                    Path dir = tmp.resolve(PARTIES[p]);
                    Mnist.writeSplit(share, dir, "train");
                    shards.add(dir);
                }
            }
            JsonNode model = FederatedFixture.JSON.readTree("""
                    {"class_name": "Sequential", "config_version": 2,
                     "layers": [{"type": "dense", "units": 128, "activation": "relu", "input_dim": 784},
                                {"type": "dense", "units": 10, "activation": "softmax"}],
                     "compile_config": {"optimizer": {"type": "adam", "learning_rate": 0.001},
                                        "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}}""");
            FederatedFixture.Task task = FederatedFixture.create(f, TrainingFixture.ADMIN, """
                    {"rounds": 30, "clients_per_round": 3, "min_clients": 3, "local_epochs": 1, "batch_size": 32,
                     "secure_aggregation": true, "clip_norm": 10.0, "training_timeout_ms": 300000}""",
                    "[\"north\", \"south\", \"east\"]", model);
            List<FederatedProcessesTest.Party> parties = new ArrayList<>();
            try {
                for (int p = 0; p < PARTIES.length; p++) {
                    parties.add(FederatedProcessesTest.Party.start(List.of("federated", "join", "--server", f.base,
                            "--token", task.token(PARTIES[p]), "--task", Long.toString(task.id()), "--data",
                            shards.get(p).toString(), "--seed", Integer.toString(p), "--threads", "1")));
                }
                String name = task.task().get("register_as").asText();
                StringBuilder curve = new StringBuilder();
                int evaluated = 0; // rounds whose global model was evaluated
                double accuracy = 0;
                int reachedAt = -1;
                while (reachedAt < 0) {
                    JsonNode status = FederatedFixture.status(f, TrainingFixture.ADMIN, task.id());
                    for (JsonNode r : status.path("history")) {
                        int round = r.path("round").asInt();
                        if (round <= evaluated || reachedAt >= 0) {
                            continue;
                        }
                        assertEquals("COMPLETED", r.path("status").asText(), r.toString());
                        try (Sequential m = Sequential.load(f.registry.modelFile(name, r.path("model_version").asInt()))) {
                            accuracy = m.evaluate(data.test()).accuracy();
                        }
                        curve.append(String.format(Locale.ROOT, " round %d: %.4f;", round, accuracy));
                        evaluated = round;
                        if (accuracy >= 0.84) {
                            reachedAt = round;
                        }
                    }
                    if (reachedAt < 0) {
                        assertEquals("running", status.path("state").asText(),
                                "the task ended before 84%:" + curve + " " + status);
                        for (FederatedProcessesTest.Party p : parties) {
                            assertTrue(p.process.isAlive(), "a party exited before 84%:" + curve + "\n" + p.output());
                        }
                        Thread.sleep(500);
                    }
                }
                System.out.println("3 client JVMs, Fashion-MNIST Dirichlet(0.5), secure aggregation:" + curve);
                assertTrue(reachedAt <= 30, "84% at round " + reachedAt + ":" + curve);
                var cancelled = f.delete("/admin/federated/tasks/" + task.id(), TrainingFixture.ADMIN);
                assertEquals(200, cancelled.statusCode(), cancelled.body());
                for (int p = 0; p < parties.size(); p++) {
                    FederatedProcessesTest.Party party = parties.get(p);
                    assertEquals(0, party.await(120), PARTIES[p] + ":\n" + party.output());
                    assertTrue(party.output().contains("masked update sent"), party.output());
                    assertTrue(party.output().contains("task " + task.id() + " finished"), party.output());
                }
                JsonNode status = FederatedFixture.status(f, TrainingFixture.ADMIN, task.id());
                assertEquals("cancelled", status.path("state").asText());
                for (JsonNode r : status.path("history")) {
                    if (r.path("round").asInt() <= reachedAt) {
                        assertEquals("COMPLETED", r.path("status").asText(), r.toString());
                        assertEquals(3, r.path("participants").asInt(), r.toString());
                    }
                }
            } finally {
                for (FederatedProcessesTest.Party p : parties) {
                    p.process.destroyForcibly();
                }
            }
        }
    }
}
