package io.dense4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayInputStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each training token's share of the disk (--storage-quota): uploads count as their bytes arrive, whatever the body
 * declares; what is over is refused with 507 naming the quota and the use, and nothing is kept; the use shows in
 * GET /v1/datasets; a delete gives the bytes back; other tokens and admins are not held back by one token's use; a
 * job's model counts too.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class StorageQuotaTest {
    @TempDir
    Path tmp;

    static long entries(Path dir) throws java.io.IOException {
        try (var s = Files.list(dir)) {
            return s.count();
        }
    }

    static JsonNode list(TrainingFixture f, String token) {
        HttpResponse<String> r = f.get("/v1/datasets", token);
        assertEquals(200, r.statusCode(), r.body());
        return TrainingClient.json(r);
    }

    static HttpResponse<String> csv(TrainingFixture f, String token, Path file, boolean declareLength) throws Exception {
        byte[] bytes = Files.readAllBytes(file);
        HttpRequest.BodyPublisher body = declareLength ? HttpRequest.BodyPublishers.ofByteArray(bytes)
                : HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(bytes)); // chunked
        return f.send(f.req("/v1/datasets", token).header("Content-Type", "text/csv").POST(body).build());
    }

    @Test
    void uploadsBeyondATokensQuotaAre507AndKeepNothingWhileOthersGoOn() throws Exception {
        Path a = FederatedFixture.csv(tmp.resolve("a.csv"), 40, 1);
        Path b = FederatedFixture.csv(tmp.resolve("b.csv"), 40, 2);
        Path c = FederatedFixture.csv(tmp.resolve("c.csv"), 40, 3);
        long quota = Files.size(a) + Files.size(b) + 100; // two fit, not three
        try (TrainingFixture f = new TrainingFixture(tmp, t -> t.storageQuotaBytes(quota))) {
            JsonNode empty = list(f, TrainingFixture.ALICE).get("quota");
            assertEquals("alice", empty.get("owner").asText());
            assertEquals(quota, empty.get("limit_bytes").asLong());
            assertEquals(0, empty.get("used_bytes").asLong());

            assertEquals(201, csv(f, TrainingFixture.ALICE, a, true).statusCode());
            assertEquals(Files.size(a), list(f, TrainingFixture.ALICE).at("/quota/dataset_bytes").asLong());
            assertEquals(201, csv(f, TrainingFixture.ALICE, b, false).statusCode());
            assertEquals(Files.size(a) + Files.size(b), list(f, TrainingFixture.ALICE).at("/quota/used_bytes").asLong());
            // over the quota: refused from the declared length, and again from the bytes when none is declared
            for (boolean declared : List.of(true, false)) {
                HttpResponse<String> over = csv(f, TrainingFixture.ALICE, c, declared);
                assertEquals(507, over.statusCode(), (declared ? "declared: " : "chunked: ") + over.body());
                String error = TrainingClient.json(over).get("error").asText();
                assertTrue(error.contains("storage quota") && error.contains(Long.toString(quota)) && error.contains("alice"),
                        error);
                assertEquals(2, list(f, TrainingFixture.ALICE).get("datasets").size(), "nothing was kept");
                assertEquals(0, list(f, TrainingFixture.ALICE).at("/quota/uploading_bytes").asLong(),
                        "a refused upload gives back what it held");
            }
            // a multipart upload is counted the same way
            HttpResponse<String> multi = f.uploadFiles("", TrainingFixture.ALICE, List.of(c));
            assertEquals(507, multi.statusCode(), multi.body());
            // bob and the admin are not held back by alice's use; bob's use is his own
            assertEquals(201, csv(f, TrainingFixture.BOB, c, false).statusCode());
            assertEquals(Files.size(c), list(f, TrainingFixture.BOB).at("/quota/used_bytes").asLong());
            Path big = FederatedFixture.csv(tmp.resolve("big.csv"), 200, 4);
            assertTrue(Files.size(big) > quota);
            assertEquals(201, csv(f, TrainingFixture.ADMIN, big, true).statusCode(), "admins are not counted");
            assertTrue(list(f, TrainingFixture.ADMIN).get("quota").isNull());
            Path staging = f.registry.root().resolve(".datasets").resolve(".staging");
            long deadline = System.nanoTime() + 20_000_000_000L; // a refused upload's cleanup may finish as its answer goes out
            while (entries(staging) > 0 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(0, entries(staging), "the refused uploads left no staged file");
            // a delete gives the bytes back
            for (JsonNode d : list(f, TrainingFixture.ALICE).get("datasets")) {
                if (d.get("created_by").asText().equals("alice")) {
                    assertEquals(200, f.delete("/v1/datasets/" + d.get("sha256").asText(), TrainingFixture.ALICE).statusCode());
                }
            }
            assertEquals(0, list(f, TrainingFixture.ALICE).at("/quota/used_bytes").asLong());
            Path d = FederatedFixture.csv(tmp.resolve("d.csv"), 40, 5);
            HttpResponse<String> again = f.uploadFiles("", TrainingFixture.ALICE, List.of(d));
            assertEquals(201, again.statusCode(), again.body());
        }
    }

    @Test
    void aJobsModelCountsAgainstItsOwnersQuota() throws Exception {
        Path data = FederatedFixture.csv(tmp.resolve("d.csv"), 64, 5);
        long size = Files.size(data);
        String sgd = "{\"type\": \"sgd\", \"learning_rate\": 0.1}";
        // room for the data, not for a model of 16x16+16x3 float weights: the job trains, then fails to register
        try (TrainingFixture f = new TrainingFixture(Files.createDirectories(tmp.resolve("one")),
                t -> t.storageQuotaBytes(size + 200))) {
            String sha = f.uploadCsv(data, "", TrainingFixture.ALICE).get("sha256").asText();
            long id = f.submit(TrainingClient.trainSpec(sha, sgd, 1, ", \"register_as\": \"alices\""), TrainingFixture.ALICE);
            JsonNode job = f.awaitEnd(id, TrainingFixture.ALICE, 90);
            assertEquals("failed", job.get("state").asText(), job.toString());
            assertTrue(job.toString().contains("storage quota"), job.toString());
            assertTrue(!f.registry.exists("alices"), "no version was registered");
            // the admin's job registers (admins are not counted), and bob's quota is his own: his job's model counts
            long admins = f.submit(TrainingClient.trainSpec(sha, sgd, 1, ", \"register_as\": \"admins\""),
                    TrainingFixture.ADMIN);
            assertEquals("succeeded", f.awaitEnd(admins, TrainingFixture.ADMIN, 90).get("state").asText());
            long bobs = f.submit(TrainingClient.trainSpec(sha, sgd, 1, ", \"register_as\": \"bobs\""), TrainingFixture.BOB);
            assertEquals("succeeded", f.awaitEnd(bobs, TrainingFixture.BOB, 90).get("state").asText());
            JsonNode bob = list(f, TrainingFixture.BOB).get("quota");
            assertEquals(f.registry.versions("bobs").get(0).sizeBytes(), bob.get("model_bytes").asLong());
            assertEquals(bob.get("model_bytes").asLong(), bob.get("used_bytes").asLong());
        }
        // already at the quota: a job that would register a model is refused at submission
        try (TrainingFixture f = new TrainingFixture(Files.createDirectories(tmp.resolve("two")),
                t -> t.storageQuotaBytes(size))) {
            String sha = f.uploadCsv(data, "", TrainingFixture.ALICE).get("sha256").asText();
            HttpResponse<String> r = f.post("/v1/jobs", TrainingFixture.ALICE, "application/json",
                    TrainingClient.trainSpec(sha, sgd, 1, ", \"register_as\": \"alices\""));
            assertEquals(507, r.statusCode(), r.body());
            assertTrue(TrainingClient.json(r).get("error").asText().contains("storage quota"), r.body());
            assertEquals(0, TrainingClient.json(f.get("/v1/jobs", TrainingFixture.ALICE)).get("jobs").size());
        }
    }
}
