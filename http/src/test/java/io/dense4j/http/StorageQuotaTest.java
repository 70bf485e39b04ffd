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
            f.uploadCsv(data, "", TrainingFixture.BOB); // the same bytes: bob holds them too (counted to alice)
            long bobs = f.submit(TrainingClient.trainSpec(sha, sgd, 1, ", \"register_as\": \"bobs\""), TrainingFixture.BOB);
            assertEquals("succeeded", f.awaitEnd(bobs, TrainingFixture.BOB, 90).get("state").asText());
            JsonNode bob = list(f, TrainingFixture.BOB).get("quota");
            assertEquals(f.registry.versions("bobs").get(0).sizeBytes(), bob.get("model_bytes").asLong());
            assertEquals(bob.get("model_bytes").asLong(), bob.get("used_bytes").asLong());
            // an admin deletes the version: bob gets its bytes back (recounted in the background)
            assertEquals(200, f.delete("/admin/models/bobs/versions/1", TrainingFixture.ADMIN).statusCode());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (list(f, TrainingFixture.BOB).at("/quota/model_bytes").asLong() != 0) {
                assertTrue(System.nanoTime() < deadline, "the deleted version's bytes never came back");
                Thread.sleep(20);
            }
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

    /** A CSV of {@code rows} rows (x, y, label), different for each {@code seed}: about 20 bytes a row. */
    static Path rows(Path file, int rows, int seed) throws java.io.IOException {
        StringBuilder b = new StringBuilder("x,y,label\n");
        java.util.Random r = new java.util.Random(seed);
        for (int i = 0; i < rows; i++) {
            b.append(r.nextInt(100_000)).append(',').append(r.nextInt(100_000)).append(',').append(i % 2 == 0 ? "a" : "b")
                    .append('\n');
        }
        return Files.writeString(file, b);
    }

    /** Waits (bounded) until the token's uploads arriving hold at least {@code bytes}; returns what they hold. */
    static long awaitArriving(TrainingFixture f, String token, long bytes) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        for (;;) {
            long arriving = list(f, token).at("/quota/uploading_bytes").asLong();
            if (arriving >= bytes) {
                return arriving;
            }
            assertTrue(System.nanoTime() < deadline, "the upload's bytes never counted: " + arriving + " of " + bytes);
            Thread.sleep(20);
        }
    }

    /**
     * A multipart body counts while it streams in, before Jetty has staged its part: its bytes show as arriving, and
     * it is refused (507) as soon as they pass the quota, while the client is still sending it, not once the whole
     * part is on disk.
     */
    @Test
    void aMultipartUploadCountsWhileItStreamsIn() throws Exception {
        long quota = 1L << 20;
        byte[] data = new byte[64 << 10];
        java.util.Arrays.fill(data, (byte) '7');
        try (TrainingFixture f = new TrainingFixture(tmp, t -> t.storageQuotaBytes(quota));
             RawHttp c = new RawHttp(f.server.port())) {
            c.socket.setSoTimeout(60_000);
            c.write("POST /v1/datasets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TrainingFixture.ALICE + "\r\n"
                    + "Content-Type: multipart/form-data; boundary=b0undary\r\nTransfer-Encoding: chunked\r\n\r\n");
            String partHead = "--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n"
                    + "Content-Type: text/csv\r\n\r\n";
            c.write(Integer.toHexString(partHead.length()) + "\r\n" + partHead + "\r\n");
            java.io.OutputStream out = c.socket.getOutputStream();
            long sent = 0;
            for (; sent < 600 << 10; sent += data.length) { // under the quota: it arrives, and counts
                out.write((Integer.toHexString(data.length) + "\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                out.write(data);
                out.write("\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            }
            out.flush();
            assertTrue(awaitArriving(f, TrainingFixture.ALICE, 512 << 10) <= quota);
            // past the quota, the part not finished: refused on the bytes that arrived
            for (; sent < quota + (128 << 10); sent += data.length) {
                out.write((Integer.toHexString(data.length) + "\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                out.write(data);
                out.write("\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            }
            out.flush();
            RawHttp.Response r = c.read();
            assertEquals(507, r.status(), r.body());
            assertTrue(r.body().contains("storage quota") && r.body().contains("alice"), r.body());
            JsonNode use = list(f, TrainingFixture.ALICE).get("quota");
            assertEquals(0, use.get("used_bytes").asLong(), use.toString());
            assertEquals(0, list(f, TrainingFixture.ALICE).get("datasets").size(), "nothing was kept");
        }
    }

    /**
     * Two uploads of one token, each within its quota, together over it: the one that arrives while the other's
     * bytes are held is refused; once one is kept, the other is refused on what is kept. Then both at once, again and
     * again: never are both kept, and the use never passes the quota.
     */
    @Test
    void twoUploadsOfOneTokenThatTogetherPassItsQuotaAreNeverBothKept() throws Exception {
        Path x = rows(tmp.resolve("x.csv"), 20_000, 1);
        Path y = rows(tmp.resolve("y.csv"), 20_000, 2);
        long quota = Math.max(Files.size(x), Files.size(y)) + Math.min(Files.size(x), Files.size(y)) / 2;
        assertTrue(Files.size(x) > ServerConnectors.EAGER_BODY_BYTES, "the handler counts it while it arrives");
        try (TrainingFixture f = new TrainingFixture(tmp, t -> t.storageQuotaBytes(quota))) {
            byte[] xs = Files.readAllBytes(x);
            try (RawHttp c = new RawHttp(f.server.port())) {
                c.socket.setSoTimeout(60_000);
                c.write("POST /v1/datasets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TrainingFixture.ALICE
                        + "\r\nContent-Type: text/csv\r\nContent-Length: " + xs.length + "\r\n\r\n");
                c.socket.getOutputStream().write(xs, 0, xs.length - 10);
                c.socket.getOutputStream().flush();
                awaitArriving(f, TrainingFixture.ALICE, xs.length - 10);
                HttpResponse<String> second = csv(f, TrainingFixture.ALICE, y, false);
                assertEquals(507, second.statusCode(), "while the first arrives: " + second.body());
                c.socket.getOutputStream().write(xs, xs.length - 10, 10);
                c.socket.getOutputStream().flush();
                assertEquals(201, c.read().status());
            }
            assertEquals(Files.size(x), list(f, TrainingFixture.ALICE).at("/quota/used_bytes").asLong());
            assertEquals(507, csv(f, TrainingFixture.ALICE, y, true).statusCode(), "once the first is kept");

            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
            try {
                for (int round = 0; round < 10; round++) {
                    for (JsonNode d : list(f, TrainingFixture.ALICE).get("datasets")) {
                        assertEquals(200, f.delete("/v1/datasets/" + d.get("sha256").asText(), TrainingFixture.ALICE)
                                .statusCode());
                    }
                    assertEquals(0, list(f, TrainingFixture.ALICE).at("/quota/used_bytes").asLong());
                    boolean declared = round % 2 == 0;
                    var a = pool.submit(() -> csv(f, TrainingFixture.ALICE, x, declared));
                    var b = pool.submit(() -> csv(f, TrainingFixture.ALICE, y, declared));
                    int sa = a.get(60, TimeUnit.SECONDS).statusCode();
                    int sb = b.get(60, TimeUnit.SECONDS).statusCode();
                    assertTrue((sa == 201 || sa == 507) && (sb == 201 || sb == 507), sa + " " + sb);
                    assertTrue(sa != 201 || sb != 201, "round " + round + ": both were kept");
                    JsonNode use = list(f, TrainingFixture.ALICE).get("quota");
                    assertTrue(use.get("used_bytes").asLong() <= quota, use.toString());
                    assertEquals(0, use.get("uploading_bytes").asLong(), use.toString());
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }
}
