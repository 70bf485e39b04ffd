package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.dense4j.Sequential;
import io.dense4j.service.job.JobState;
import io.dense4j.service.store.Database;
import io.dense4j.service.store.JobStore;
import io.dense4j.service.store.PostgresCluster;
import io.dense4j.service.store.Records;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static io.dense4j.http.TrainingClient.trainSpec;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Real server processes (second JVMs started from the built classpath): one killed with SIGKILL in the middle of
 * a job and restarted on the same state and registry; two sharing one PostgreSQL queue.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ServerProcessTest {
    static final String TOKEN = "process-token";
    static final String STRONG = "{\"type\": \"adam\", \"learning_rate\": 0.003}";

    @TempDir
    Path tmp;

    private List<String> serveArgs(String state, String serverId, long leaseMs) {
        return List.of("--registry", tmp.resolve("registry").toString(), "--state", state, "--cpus", "2",
                "--inference-reserve", "1", "--train-token", TOKEN, "--job-lease-ms", Long.toString(leaseMs),
                "--poll-ms", "500", "--no-access-log", "--server-id", serverId);
    }

    /**
     * The server dies (SIGKILL) after a few epochs of a job, with another job queued behind it. Until a server runs
     * again, the store says running and queued: nothing is reported succeeded that did not finish. The restarted
     * server re-queues the job when the dead one's lease expires and resumes it from its last checkpoint: every epoch
     * is in the result exactly once, the model is registered once, and the queued job runs too.
     */
    @Test
    void aKilledServerRestartedOnTheSameStateResumesItsJobAndLosesNothing() throws Exception {
        String state = tmp.resolve("state.db").toString();
        int epochs = 300;
        long first;
        long second;
        try (ServerProcess a = ServerProcess.start(serveArgs(state, "first", 3000))) {
            TrainingClient c = new TrainingClient(a.base());
            String sha = c.uploadCsv(TrainingData.csv(tmp.resolve("data.csv"), 1500, 8, 4), "?ignore_columns=id", TOKEN)
                    .get("sha256").asText();
            first = c.submit(trainSpec(sha, STRONG, epochs, ", \"register_as\": \"resumed\", \"promote\": \"if_better\", "
                    + "\"checkpoint\": {\"min_interval_seconds\": 0}"),
                    TOKEN);
            second = c.submit(trainSpec(sha, STRONG, 2, ", \"register_as\": \"after\""), TOKEN);
            int reached = 0;
            for (int i = 0; i < 1200 && reached < 4; i++) {
                Thread.sleep(50);
                for (JsonNode e : TrainingClient.json(c.get("/v1/jobs/" + first + "/logs?format=json", TOKEN)).get("events")) {
                    if (e.get("kind").asText().equals("epoch")) {
                        reached = Math.max(reached, e.at("/data/epoch").asInt());
                    }
                }
            }
            assertTrue(reached >= 4, "the job reached epoch " + reached);
            assertEquals("queued", c.job(second, TOKEN).get("state").asText(), "one job thread: the second waits");
            a.kill();
        }
        JobStore store = new JobStore(Database.sqlite(Path.of(state)));
        Records.Job dead = store.job(first).orElseThrow();
        assertEquals(JobState.RUNNING, dead.state(), "only a lease expiry can say its server is gone");
        assertNull(dead.result());
        int checkpointed = io.dense4j.tune.Json.parse(dead.checkpoint()).get("epochs").asInt();
        // an epoch is reported, then checkpointed: after epoch 4 was seen, epoch 3's checkpoint is recorded
        assertTrue(checkpointed >= 3 && checkpointed < epochs, "checkpoint after epoch " + checkpointed);
        assertEquals(JobState.QUEUED, store.job(second).orElseThrow().state());

        long straight;
        try (ServerProcess b = ServerProcess.start(serveArgs(state, "second", 3000))) {
            TrainingClient c = new TrainingClient(b.base());
            // the same job again, never interrupted: the resumed one must end with its weights
            try {
                straight = c.submit(trainSpec(store.job(first).orElseThrow().datasetSha256(), STRONG, epochs,
                        ", \"register_as\": \"straight\""), TOKEN);
            } catch (RuntimeException e) { // seen twice on loaded machines: a submit unanswered for 60 s
                throw new AssertionError("the restarted server did not answer a submit: " + e + "\n" + b.output()
                        + "\n" + b.threadDump(), e);
            }
            JsonNode done = c.awaitEnd(first, TOKEN, 240);
            assertEquals("succeeded", done.get("state").asText(), done.toString() + "\n" + b.output());
            assertEquals(2, done.get("attempt").asInt());
            JsonNode result = c.job(first, TOKEN).get("result");
            assertEquals(epochs, result.get("epochs").size());
            for (int e = 0; e < epochs; e++) {
                assertEquals(e + 1, result.get("epochs").get(e).get("epoch").asInt(), "each epoch once, in order");
            }
            String log = c.get("/v1/jobs/" + first + "/logs", TOKEN).body();
            assertTrue(log.contains("resuming: from the checkpoint after epoch"), log);
            assertTrue(log.contains("lease expired"), log);
            assertEquals("succeeded", c.awaitEnd(second, TOKEN, 120).get("state").asText());
            assertEquals(1, c.job(second, TOKEN).get("attempt").asInt());
            assertEquals("succeeded", c.awaitEnd(straight, TOKEN, 240).get("state").asText());
        }
        var registry = io.dense4j.registry.ModelRegistry.open(tmp.resolve("registry"));
        assertEquals(List.of(1), registry.versionNumbers("resumed"), "registered once");
        try (Sequential m = Sequential.load(registry.modelFile("resumed", 1))) {
            Map<?, ?> lineage = (Map<?, ?>) m.trainingInfo().get("lineage");
            assertEquals(epochs, ((List<?>) lineage.get("epochs")).size());
            try (Sequential s = Sequential.load(registry.modelFile("straight", 1))) {
                org.junit.jupiter.api.Assertions.assertArrayEquals(s.parameters(), m.parameters(),
                        "killed after epoch " + checkpointed + " and resumed in another process: the uninterrupted "
                        + "run's weights, bit for bit");
            }
        }
    }

    /**
     * Two server processes on one PostgreSQL database and one registry: jobs submitted to either run exactly once
     * (one claim each), both servers run some, every job registers its own version, and one server streams the
     * events of a job the other runs (through the store).
     */
    @Test
    void twoServerProcessesShareOnePostgresQueueWithoutRunningAJobTwice() throws Exception {
        PostgresCluster cluster = PostgresCluster.start();
        Assumptions.assumeTrue(cluster != null, () -> "PostgreSQL unavailable: " + PostgresCluster.skipReason);
        try (cluster) {
            Database db = cluster.newDatabase();
            String url = db.toString() + "?user=dense4j";
            try (ServerProcess east = ServerProcess.start(serveArgs(url, "east", 10_000));
                 ServerProcess west = ServerProcess.start(serveArgs(url, "west", 10_000))) {
                List<TrainingClient> clients = List.of(new TrainingClient(east.base()), new TrainingClient(west.base()));
                String sha = clients.get(0).uploadCsv(TrainingData.csv(tmp.resolve("shared.csv"), 300, 4, 6),
                        "?ignore_columns=id", TOKEN).get("sha256").asText();
                List<Long> ids = new ArrayList<>();
                for (int i = 0; i < 6; i++) {
                    ids.add(clients.get(i % 2).submit(trainSpec(sha, STRONG, 15, ", \"register_as\": \"shared\""), TOKEN));
                }
                // west follows the first job, whichever server runs it
                List<TrainingClient.Event> streamed = clients.get(1).events(ids.get(0), TOKEN, null);
                assertEquals("succeeded", streamed.get(streamed.size() - 1).data().get("state").asText());
                Set<String> servers = new HashSet<>();
                for (long id : ids) {
                    JsonNode j = clients.get((int) (id % 2)).awaitEnd(id, TOKEN, 180);
                    assertEquals("succeeded", j.get("state").asText(), j.toString());
                    assertEquals(1, j.get("attempt").asInt(), "job " + id + " was claimed once");
                    String log = clients.get(0).get("/v1/jobs/" + id + "/logs?format=json", TOKEN).body();
                    servers.add(log.contains("\"server\":\"east\"") ? "east" : log.contains("\"server\":\"west\"") ? "west" : "?");
                }
                assertEquals(Set.of("east", "west"), servers, "both servers ran jobs");
                var registry = io.dense4j.registry.ModelRegistry.open(tmp.resolve("registry"));
                assertEquals(6, registry.versionNumbers("shared").size());
                Set<String> sources = new HashSet<>();
                registry.versions("shared").forEach(v -> sources.add(v.source()));
                assertEquals(6, sources.size(), "one version per job");
            }
        }
    }
}
