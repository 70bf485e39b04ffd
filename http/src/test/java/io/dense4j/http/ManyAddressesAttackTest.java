package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import static io.dense4j.http.ServerFixture.inferBody;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Slow clients on many addresses (127.0.0.30 and up), each within its own shares, together within the server's
 * connection cap: health checks and other clients' inference must still be answered promptly, and every request
 * refused must get an HTTP answer. Slow headers and small slow bodies hold no thread; bodies too large to be
 * received before a thread is given to them (over {@link ServerConnectors#EAGER_BODY_BYTES}: inference batches of
 * a few megabytes, data set uploads) hold one while they arrive, so they are bounded server-wide (the memory
 * budget of request bodies, the upload slots) and an upload must keep a minimum rate.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class ManyAddressesAttackTest {
    private static final float[][] ROWS = {{5.1f, 3.5f, 1.4f, 0.2f}};
    /**
     * Attacking addresses and connections from each: within every per-client limit (64 requests handled at once),
     * together over the server's 250 threads.
     */
    private static final int ADDRESSES = 5;
    private static final int PER_ADDRESS = 56;
    /** Body bytes each attacker sends at once: more than is received before the request is given a thread. */
    private static final int FILLER = (int) ServerConnectors.EAGER_BODY_BYTES + (64 << 10);

    /**
     * What "answered promptly" allows here: starved requests wait for the attackers' deadlines (30 s), while these
     * attackers push some 90 MB through the loopback on the same (possibly busy, 2-core) machine as they start.
     */
    private static final long ANSWERED_MS = 5000;

    @TempDir
    Path tmp;

    private static ServerConfig.TrainingConfig training(Path dir) {
        return ServerConfig.TrainingConfig.builder(dir.resolve("state.db").toString())
                .tokens(Map.of("alice", TrainingFixture.ALICE)).cpus(2).inferenceReserve("1")
                .maxDatasetBytes(64 << 20).serverId("test-server").build();
    }

    private static void inferenceServed(int port, String source) throws IOException {
        long t0 = System.nanoTime();
        try (RawHttp c = new RawHttp(source, port)) {
            c.socket.setSoTimeout(10_000);
            RawHttp.Response r = c.send("POST", "/v2/models/iris/infer", null, inferBody(ROWS, null));
            assertEquals(200, r.status(), r.body());
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms < ANSWERED_MS, "inference took " + ms + " ms");
    }

    /** Opens the attack: {@code ADDRESSES x PER_ADDRESS} connections from 127.0.0.30.. each sending {@code head}. */
    private static List<RawHttp> attack(int port, String head) throws IOException {
        List<RawHttp> all = new ArrayList<>();
        for (int a = 0; a < ADDRESSES; a++) {
            all.addAll(SameAddressAttackTest.attack("127.0.0." + (30 + a), port, PER_ADDRESS, head));
        }
        return all;
    }

    /**
     * Runs the attack for a few seconds while probes and two well-behaved clients (one on the probes' address,
     * one on another) are answered promptly; returns what the attack connections got (see {@link #outcomes}).
     */
    private Map<String, Integer> underAttack(String head, ServerFixture f) throws Exception {
        int port = f.server.port();
        List<RawHttp> attack = new ArrayList<>();
        try (SameAddressAttackTest.Prober probes = new SameAddressAttackTest.Prober("127.0.0.1", port, 200,
                "/v2/health/live", "/v2/health/ready")) {
            attack.addAll(attack(port, head));
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(4);
            while (System.nanoTime() < until) {
                inferenceServed(port, "127.0.0.1");
                inferenceServed(port, "127.0.0.2");
                // the attackers keep trickling: a byte now and then keeps Jetty's idle timeout away
                for (RawHttp c : attack) {
                    try {
                        c.write("1");
                    } catch (IOException closed) {
                        // refused or cut by the server
                    }
                }
                Thread.sleep(200);
            }
            probes.assertAllAnswered(8, ANSWERED_MS);
            Map<String, Integer> got = outcomes(attack);
            System.out.println("slow large bodies from " + ADDRESSES + " addresses: " + got + ", busy threads "
                    + f.server.busyRequestThreads());
            return got;
        } finally {
            SameAddressAttackTest.closeAll(attack);
        }
    }

    @Test
    void slowHeadersAndSmallSlowBodiesFromManyAddressesAtTheDefaultLimits() throws Exception {
        int addresses = 10;
        int perAddress = 150;
        SameAddressAttackTest.assumeFileDescriptors(2L * addresses * perAddress + 500);
        try (ServerFixture f = new ServerFixture(tmp, b -> b)) {
            int port = f.server.port();
            List<RawHttp> attack = new ArrayList<>();
            try (SameAddressAttackTest.Prober probes = new SameAddressAttackTest.Prober("127.0.0.1", port, 200,
                    "/v2/health/live", "/v2/health/ready")) {
                for (int a = 0; a < addresses; a++) {
                    String source = "127.0.0." + (30 + a);
                    attack.addAll(SameAddressAttackTest.attack(source, port, perAddress / 3, ""));
                    attack.addAll(SameAddressAttackTest.attack(source, port, perAddress / 3,
                            "POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\nX-Slow: "));
                    attack.addAll(SameAddressAttackTest.attack(source, port, perAddress / 3, SameAddressAttackTest.SLOW_BODY));
                }
                long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(4);
                while (System.nanoTime() < until) {
                    inferenceServed(port, "127.0.0.1");
                    inferenceServed(port, "127.0.0.2");
                    Thread.sleep(200);
                }
                probes.assertAllAnswered(8, ANSWERED_MS);
                // within the cap and every share: nothing was shed or put on probation, nothing answered yet
                ConnectionGuard guard = f.server.connectionGuard();
                assertEquals(0, guard.shedConnections());
                assertEquals(0, guard.probationAdmitted());
                // the line past which the clients with most requests get no more threads: Javalin's 250 less an eighth
                assertEquals(250 - 31, guard.threadPressure());
                assertTrue(guard.openConnections() >= addresses * perAddress, "open " + guard.openConnections());
            } finally {
                SameAddressAttackTest.closeAll(attack);
            }
        }
    }

    /**
     * "waiting" (nothing received yet: its body is being read), or the status of its answer, each checked to be
     * exactly {"error": ...} with Retry-After; "closed" if it was closed without an answer.
     */
    private static Map<String, Integer> outcomes(List<RawHttp> attack) throws IOException {
        Map<String, Integer> got = new TreeMap<>();
        for (RawHttp c : attack) {
            String outcome;
            if (c.silentFor(1)) {
                outcome = "waiting";
            } else {
                try {
                    RawHttp.Response r = c.read();
                    JsonNode n = ServerFixture.JSON.readTree(r.body());
                    assertTrue(n.isObject() && n.size() == 1 && n.path("error").isTextual(), r.body());
                    assertTrue(r.headers().toLowerCase(Locale.ROOT).contains("\r\nretry-after: 1\r\n"), r.headers());
                    outcome = Integer.toString(r.status());
                } catch (IOException closed) {
                    outcome = "closed";
                }
            }
            got.merge(outcome, 1, Integer::sum);
        }
        return got;
    }

    @Test
    void slowLargeInferenceBodiesFromManyAddressesDoNotStarveOthers() throws Exception {
        SameAddressAttackTest.assumeFileDescriptors(2L * ADDRESSES * PER_ADDRESS + 500);
        try (ServerFixture f = new ServerFixture(tmp, b -> b)) {
            Map<String, Integer> got = underAttack("POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 4000000\r\n\r\n{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP32\","
                    + "\"data\":[" + "1,".repeat(FILLER / 2), f);
            // the bodies being read fit the server's memory budget for request bodies; the others were told to retry
            assertEquals(ADDRESSES * PER_ADDRESS, got.getOrDefault("waiting", 0) + got.getOrDefault("503", 0), got.toString());
            assertTrue(got.getOrDefault("503", 0) > 0, got.toString());
        }
    }

    @Test
    void slowDatasetUploadsFromManyAddressesDoNotStarveInference() throws Exception {
        SameAddressAttackTest.assumeFileDescriptors(2L * ADDRESSES * PER_ADDRESS + 500);
        try (ServerFixture f = new ServerFixture(tmp, b -> b.training(training(tmp)))) {
            Map<String, Integer> got = underAttack("POST /v1/datasets?name=slow HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                    + TrainingFixture.ALICE + "\r\nContent-Type: text/csv\r\nContent-Length: 30000000\r\n\r\n"
                    + "a,b,label\n" + "1,2,0\n".repeat(FILLER / 6), f);
            // as many uploads stream in as there are upload slots, a quarter of them per address; the others were
            // told to retry
            assertEquals(Math.min(ServerConfig.DEFAULT_MAX_UPLOADS, ADDRESSES * (ServerConfig.DEFAULT_MAX_UPLOADS / 4)),
                    got.getOrDefault("waiting", 0), got.toString());
            assertEquals(ADDRESSES * PER_ADDRESS, got.getOrDefault("waiting", 0) + got.getOrDefault("503", 0), got.toString());
        }
    }

    /**
     * An upload arriving above the minimum rate is taken however long it lasts, from its first byte: the first
     * EAGER_BODY_BYTES are buffered before its handler runs, and under the plain body deadline (2 s here) an upload
     * at 3x the minimum rate got 408 before its handler was reached.
     */
    @Test
    void anUploadAboveTheMinimumRateIsTakenWhateverTheBodyDeadline() throws Exception {
        ServerConfig.ClientLimits limits = ServerConfig.ClientLimits.defaults().withBodyTimeout(Duration.ofSeconds(2))
                .withMinUploadBytesPerSecond(16 << 10);
        try (ServerFixture f = new ServerFixture(tmp, b -> b.clients(limits).training(training(tmp)))) {
            Path csv = TrainingData.csv(tmp.resolve("steady.csv"), 9_000, 4, 9);
            byte[] data = java.nio.file.Files.readAllBytes(csv);
            assertTrue(data.length > ServerConnectors.EAGER_BODY_BYTES, "bigger than what is buffered: " + data.length);
            try (RawHttp c = new RawHttp("127.0.0.40", f.server.port())) {
                c.socket.setSoTimeout(60_000);
                RawHttp.Response r = uploadAt48KiBPerSecond(c, "POST /v1/datasets?name=steady&ignore_columns=id HTTP/1.1\r\n"
                        + "Host: x\r\nAuthorization: Bearer " + TrainingFixture.ALICE + "\r\nContent-Type: text/csv\r\n", data);
                assertEquals(201, r.status(), r.body());
            }
        }
    }

    /** Sends {@code head} (request line and headers, without Content-Length) and {@code data} at 48 KiB/s. */
    private static RawHttp.Response uploadAt48KiBPerSecond(RawHttp c, String head, byte[] data) throws Exception {
        c.write(head + "Content-Length: " + data.length + "\r\n\r\n");
        java.io.OutputStream out = c.socket.getOutputStream();
        int step = 8 << 10; // 8 KiB every 166 ms: 48 KiB/s, three times the minimum of these tests
        for (int at = 0; at < data.length; at += step) {
            out.write(data, at, Math.min(step, data.length - at));
            out.flush();
            Thread.sleep(166);
        }
        return c.read();
    }

    /** The same for a model file (the other streaming route): taken at 3x the minimum rate, past the body deadline. */
    @Test
    void aModelUploadAboveTheMinimumRateIsTakenWhateverTheBodyDeadline() throws Exception {
        ServerConfig.ClientLimits limits = ServerConfig.ClientLimits.defaults().withBodyTimeout(Duration.ofSeconds(2))
                .withMinUploadBytesPerSecond(16 << 10);
        Path file = tmp.resolve("wide.d4j");
        try (io.dense4j.Sequential m = io.dense4j.Sequential.of(
                io.dense4j.layers.Dense.of(784, 128, io.dense4j.layers.Activation.RELU),
                io.dense4j.layers.Dense.of(128, 10, io.dense4j.layers.Activation.SOFTMAX))) {
            m.initialize(5).save(file);
        }
        byte[] data = java.nio.file.Files.readAllBytes(file);
        assertTrue(data.length > ServerConnectors.EAGER_BODY_BYTES, "bigger than what is buffered: " + data.length);
        try (ServerFixture f = new ServerFixture(tmp, b -> b.clients(limits).adminToken("admin-secret"))) {
            try (RawHttp c = new RawHttp("127.0.0.41", f.server.port())) {
                c.socket.setSoTimeout(60_000);
                RawHttp.Response r = uploadAt48KiBPerSecond(c, "POST /admin/models/wide/versions HTTP/1.1\r\nHost: x\r\n"
                        + "Authorization: Bearer admin-secret\r\nContent-Type: application/octet-stream\r\n", data);
                assertEquals(201, r.status(), r.body());
            }
            assertEquals(1, f.registry.versions("wide").size());
        }
    }

    @Test
    void anUploadTricklingBelowTheMinimumRateIsCutAndItsSlotFreed() throws Exception {
        ServerConfig.ClientLimits limits = ServerConfig.ClientLimits.defaults().withBodyTimeout(Duration.ofSeconds(2))
                .withMaxUploads(1).withMinUploadBytesPerSecond(64 << 10);
        try (ServerFixture f = new ServerFixture(tmp, b -> b.clients(limits).training(training(tmp)))) {
            int port = f.server.port();
            String head = "POST /v1/datasets?name=slow HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                    + TrainingFixture.ALICE + "\r\nContent-Type: text/csv\r\nContent-Length: 3000000\r\n\r\n"
                    + "a,b,label\n" + "1,2,0\n".repeat(FILLER / 6);
            try (RawHttp slow = new RawHttp("127.0.0.30", port)) {
                slow.write(head);
                Thread.sleep(500);
                // the one slot is taken: another upload is told to retry
                try (RawHttp other = new RawHttp("127.0.0.31", port)) {
                    other.write(head);
                    RawHttp.Response r = other.read();
                    assertEquals(503, r.status(), r.body());
                    assertTrue(r.headers().toLowerCase(Locale.ROOT).contains("\r\nretry-after: 1\r\n"), r.headers());
                }
                // a few bytes now and then keep Jetty's idle timeout away, not the minimum rate
                long t0 = System.nanoTime();
                slow.socket.setSoTimeout(200);
                RawHttp.Response cut = null;
                while (cut == null && System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(20)) {
                    slow.write("1,2,0\n");
                    if (!slow.silentFor(200)) {
                        slow.socket.setSoTimeout(5000);
                        cut = slow.read();
                    }
                }
                assertTrue(cut != null, "a trickling upload was not cut within 20 s");
                assertEquals(408, cut.status(), cut.body());
                assertTrue(ServerFixture.JSON.readTree(cut.body()).path("error").asText().contains("bytes/s"), cut.body());
            }
            // its slot is free again: an upload at full speed is stored
            Path csv = TrainingData.csv(tmp.resolve("big.csv"), 6000, 4, 7);
            assertTrue(java.nio.file.Files.size(csv) > ServerConnectors.EAGER_BODY_BYTES);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            java.net.http.HttpResponse<String> r;
            do {
                r = f.send(f.req("/v1/datasets?ignore_columns=id").header("Authorization", "Bearer " + TrainingFixture.ALICE)
                        .header("Content-Type", "text/csv").POST(java.net.http.HttpRequest.BodyPublishers.ofFile(csv)).build());
            } while (r.statusCode() == 503 && System.nanoTime() < deadline);
            assertEquals(201, r.statusCode(), r.body());
        }
    }
}
