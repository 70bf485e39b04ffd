package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Several clients send requests (JSON and binary) to the default route while another thread promotes
 * and rolls back the {@code stable} alias over and over. No request may fail, and every response must
 * come from a version that {@code stable} pointed at at some moment during that request, with the
 * outputs of that very version.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PromoteRollbackConcurrencyTest {
    private static final float[][] ROW = {{5.1f, 3.5f, 1.4f, 0.2f}};
    private static final int CLIENTS = 6;
    /** How long the alias keeps moving at least; longer, until the least below is reached (a busy machine is slow). */
    private static final long RUN_NANOS = TimeUnit.SECONDS.toNanos(4);
    /** The least the test needs to mean something: alias moves, and requests answered by each version. */
    private static final int MIN_SWITCHES = 10;
    private static final int MIN_REQUESTS_PER_VERSION = 50;
    /** A bound on the run however slow the machine, well within the test's timeout. */
    private static final long MAX_RUN_NANOS = TimeUnit.SECONDS.toNanos(60);
    private static final int MAX_REQUESTS_PER_CLIENT = 5_000;
    private static final int MAX_SWITCHES = 400;

    /** The alias was moved to {@code version} at some instant within [before, after]. */
    record AliasMove(long before, long after, int version) {
    }

    record Outcome(long start, long end, int status, int version, float[] output, String body) {
    }

    @TempDir
    Path tmp;

    @Test
    void noFailedRequestsAndEveryResponseFromTheAliasedVersion() throws Exception {
        try (ServerFixture f = new ServerFixture(tmp, b -> b.adminToken("admin-secret"))) {
            float[][] expected = {null, f.expected(1, ROW)[0], f.expected(2, ROW)[0]};
            List<AliasMove> moves = new CopyOnWriteArrayList<>();
            moves.add(new AliasMove(Long.MIN_VALUE, System.nanoTime(), 1)); // stable -> 1 from the fixture
            ConcurrentLinkedQueue<Outcome> outcomes = new ConcurrentLinkedQueue<>();
            ConcurrentLinkedQueue<Throwable> clientErrors = new ConcurrentLinkedQueue<>();
            AtomicBoolean done = new AtomicBoolean();
            AtomicIntegerArray answeredBy = new AtomicIntegerArray(3); // requests answered by each version so far

            List<Thread> clients = new ArrayList<>();
            for (int c = 0; c < CLIENTS; c++) {
                boolean binary = c % 2 == 1;
                Thread t = new Thread(() -> {
                    try {
                        for (int i = 0; i < MAX_REQUESTS_PER_CLIENT && !done.get(); i++) {
                            Outcome o = binary ? binaryCall(f) : jsonCall(f);
                            outcomes.add(o);
                            if (o.status == 200 && (o.version == 1 || o.version == 2)) {
                                answeredBy.incrementAndGet(o.version);
                            }
                        }
                    } catch (Throwable e) {
                        clientErrors.add(e);
                    }
                }, "client-" + c);
                clients.add(t);
                t.start();
            }

            // promote to 2 and roll back to 1, again and again, through the management API: for RUN_NANOS, and on
            // until the test has seen enough to mean something (not a time limit: a loaded machine only takes longer)
            ServerFixture admin = f;
            long start = System.nanoTime();
            int switches = 0;
            while (switches < MAX_SWITCHES && System.nanoTime() - start < MAX_RUN_NANOS
                    && (System.nanoTime() - start < RUN_NANOS || switches < MIN_SWITCHES
                    || answeredBy.get(1) < MIN_REQUESTS_PER_VERSION || answeredBy.get(2) < MIN_REQUESTS_PER_VERSION)) {
                long before = System.nanoTime();
                HttpResponse<String> r = admin.send(admin.req("/admin/models/iris/aliases/stable")
                        .header("Authorization", "Bearer admin-secret")
                        .PUT(HttpRequest.BodyPublishers.ofString("{\"version\": 2}")).build());
                moves.add(new AliasMove(before, System.nanoTime(), 2));
                assertEquals(200, r.statusCode(), r.body());
                before = System.nanoTime();
                r = admin.send(admin.req("/admin/models/iris/aliases/stable/rollback")
                        .header("Authorization", "Bearer admin-secret")
                        .POST(HttpRequest.BodyPublishers.noBody()).build());
                moves.add(new AliasMove(before, System.nanoTime(), 1));
                assertEquals(200, r.statusCode(), r.body());
                assertEquals(1, ServerFixture.json(r).get("version").asInt());
                switches += 2;
            }
            done.set(true);
            for (Thread t : clients) {
                t.join(30_000);
            }
            assertTrue(clientErrors.isEmpty(), () -> "client failed: " + clientErrors.peek());
            assertTrue(switches >= MIN_SWITCHES, "too few alias switches: " + switches);
            assertTrue(outcomes.size() >= 2 * MIN_REQUESTS_PER_VERSION, "too few requests: " + outcomes.size());

            Set<Integer> seen = new HashSet<>();
            for (Outcome o : outcomes) {
                assertEquals(200, o.status, () -> "failed request: " + o.body);
                Set<Integer> allowed = allowedVersions(moves, o.start, o.end);
                assertTrue(allowed.contains(o.version), () -> "response from version " + o.version
                        + " but during the request stable pointed only at " + allowed);
                for (int k = 0; k < 3; k++) {
                    assertEquals(expected[o.version][k], o.output[k], 1e-6, "outputs are not those of version " + o.version);
                }
                seen.add(o.version);
            }
            assertEquals(Set.of(1, 2), seen, "both versions should have served traffic");
            System.out.println("promote/rollback: " + switches + " alias moves, " + outcomes.size() + " requests, 0 failed");
        }
    }

    /** Versions stable pointed at at some instant of [start, end]. */
    static Set<Integer> allowedVersions(List<AliasMove> moves, long start, long end) {
        Set<Integer> allowed = new HashSet<>();
        AliasMove settled = null; // the last move certainly done before the request started
        for (AliasMove m : moves) {
            if (m.after <= start) {
                settled = m;
            }
            if (m.before <= end && m.after >= start) {
                allowed.add(m.version); // the move may have happened while the request ran
            }
        }
        if (settled != null) {
            allowed.add(settled.version);
        }
        return allowed;
    }

    private static Outcome jsonCall(ServerFixture f) {
        long s = System.nanoTime();
        HttpResponse<String> r = f.post("/v2/models/iris/infer", ServerFixture.inferBody(ROW, null));
        long e = System.nanoTime();
        if (r.statusCode() != 200) {
            return new Outcome(s, e, r.statusCode(), -1, null, r.body());
        }
        JsonNode n = ServerFixture.json(r);
        JsonNode data = n.get("outputs").get(0).get("data");
        float[] out = {data.get(0).floatValue(), data.get(1).floatValue(), data.get(2).floatValue()};
        return new Outcome(s, e, 200, n.get("model_version").asInt(), out, r.body());
    }

    private static Outcome binaryCall(ServerFixture f) throws Exception {
        String header = "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP32\","
                + "\"parameters\":{\"binary_data_size\":16}}],\"outputs\":[{\"name\":\"output\",\"parameters\":{\"binary_data\":true}}]}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer body = ByteBuffer.allocate(h.length + 16).order(ByteOrder.LITTLE_ENDIAN).put(h);
        for (float v : ROW[0]) {
            body.putFloat(v);
        }
        long s = System.nanoTime();
        HttpResponse<byte[]> r = f.sendBytes(f.req("/v2/models/iris/infer")
                .header("Inference-Header-Content-Length", Integer.toString(h.length))
                .POST(HttpRequest.BodyPublishers.ofByteArray(body.array())).build());
        long e = System.nanoTime();
        if (r.statusCode() != 200) {
            return new Outcome(s, e, r.statusCode(), -1, null, new String(r.body(), StandardCharsets.UTF_8));
        }
        int len = Integer.parseInt(r.headers().firstValue("Inference-Header-Content-Length").orElseThrow());
        JsonNode n = ServerFixture.JSON.readTree(new String(r.body(), 0, len, StandardCharsets.UTF_8));
        ByteBuffer out = ByteBuffer.wrap(r.body(), len, 12).order(ByteOrder.LITTLE_ENDIAN);
        return new Outcome(s, e, 200, n.get("model_version").asInt(),
                new float[] {out.getFloat(), out.getFloat(), out.getFloat()}, "");
    }
}
