package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.dense4j.service.job.JobState;
import io.dense4j.service.store.Database;
import io.dense4j.service.store.JobStore;
import io.dense4j.service.store.Records;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static io.dense4j.http.TrainingFixture.ALICE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A graceful stop (what SIGTERM runs) hands a running job back to the queue at once, with its checkpoint; the next
 * server on the same state resumes it without waiting for a lease to expire.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class GracefulStopTest {
    @TempDir
    Path tmp;

    @Test
    void aStoppingServerHandsItsRunningJobBackAndTheNextOneResumesIt() throws Exception {
        int epochs = 120;
        long id;
        try (TrainingFixture a = new TrainingFixture(tmp, t -> t.lease(java.time.Duration.ofMinutes(10)))) {
            String sha = a.uploadCsv(TrainingData.csv(tmp.resolve("d.csv"), 600, 6, 3), "?ignore_columns=id", ALICE)
                    .get("sha256").asText();
            id = a.submit(TrainingClient.trainSpec(sha, "{\"type\": \"adam\", \"learning_rate\": 0.003}", epochs,
                    ", \"register_as\": \"handed\", \"checkpoint\": {\"min_interval_seconds\": 0}"), ALICE);
            JsonNode j = a.job(id, ALICE);
            for (int i = 0; i < 1200 && (j.get("progress").isNull() || j.at("/progress/epoch").asInt() < 3); i++) {
                Thread.sleep(20);
                j = a.job(id, ALICE); // the live progress of a job running on this server
            }
            assertEquals("running", j.get("state").asText(), j.get("state").asText() + " " + j.get("progress"));
        } // close(): the graceful stop
        JobStore store = new JobStore(Database.sqlite(tmp.resolve("state.db")));
        Records.Job handed = store.job(id).orElseThrow();
        assertEquals(JobState.QUEUED, handed.state(), "handed back, not left running until its lease expires");
        assertNull(handed.result());
        assertTrue(store.events(id, 0, 10_000).stream().anyMatch(e -> e.payload().contains("shut down")));
        int checkpointed = io.dense4j.tune.Json.parse(handed.checkpoint()).get("epochs").asInt();
        assertTrue(checkpointed >= 2 && checkpointed < epochs, "checkpoint after epoch " + checkpointed);

        // a lease of 10 minutes: only the hand-back lets the next server take it now
        try (TrainingFixture b = new TrainingFixture(tmp, t -> t.lease(java.time.Duration.ofMinutes(10)))) {
            JsonNode done = b.awaitEnd(id, ALICE, 150);
            assertEquals("succeeded", done.get("state").asText(), done.toString());
            assertEquals(2, done.get("attempt").asInt());
            JsonNode result = b.job(id, ALICE).get("result");
            assertEquals(epochs, result.get("epochs").size());
            assertTrue(b.get("/v1/jobs/" + id + "/logs", ALICE).body().contains("resuming: from the checkpoint after epoch"));
            assertEquals(java.util.List.of(1), b.registry.versionNumbers("handed"));
        }
    }
}
