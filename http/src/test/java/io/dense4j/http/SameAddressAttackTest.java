package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;

import static io.dense4j.http.ServerFixture.inferBody;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The review's slow-client attack run from the SAME address as the health probes and the other clients
 * (127.0.0.1, as a script on the server's own machine, or anyone behind the same NAT or proxy): connections
 * that send {@code POST .../infer} headers, {@code Content-Length: 1000} and 9 body bytes, then nothing. Probes
 * from that address must keep getting 200 within a probe's timeout, other addresses must be served, and every
 * request the server refuses must get an HTTP answer ({"error": ...}), not a closed connection.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class SameAddressAttackTest {
    static final String ATTACKER = "127.0.0.1";
    static final String OTHER = "127.0.0.2";
    /**
     * What a probe waits for an answer: Kubernetes' default is 1 s, load balancers' a few; probes sent while the
     * server accepts a burst of thousands of connections wait their turn in the accept queue, and a loaded CI
     * machine gets some slack. Each test prints the median and the largest time it saw.
     */
    static final long PROBE_TIMEOUT_MS = 2000;
    static final String SLOW_BODY = "POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + "Content-Length: 1000\r\n\r\n{\"inputs\"";
    private static final float[][] ROWS = {{5.1f, 3.5f, 1.4f, 0.2f}};

    @TempDir
    Path tmp;

    /**
     * Probes from one address on a fresh connection each time, as a kubelet or a load balancer does, every
     * {@code periodMs} until closed; records status and time of each.
     *
     * <p>With a {@code connecting} lock shared with the test's other clients, each probe connects and sends its
     * request while holding it, so no other connection of the test opens between a probe's opening and its request.
     * A server near its cap sheds a connection that has sent nothing before one whose request is arriving: a
     * probe accepted in the instant before its client thread wrote (a busy machine may stall that thread for many
     * milliseconds) would be shed as "silent" at the next connection's opening, which the server documents; the
     * lock keeps the probes' requests on the wire before the flood goes on, so what is checked is that a probe
     * whose request has arrived is answered, however the threads are scheduled.
     */
    static final class Prober implements AutoCloseable {
        record Probe(String path, int status, long millis, String failure) {
        }

        private final List<Probe> probes = Collections.synchronizedList(new ArrayList<>());
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final Thread thread;

        Prober(String source, int port, long periodMs, String... paths) {
            this(source, port, periodMs, new ReentrantLock(), paths);
        }

        Prober(String source, int port, long periodMs, Lock connecting, String... paths) {
            thread = new Thread(() -> {
                for (int i = 0; running.get(); i++) {
                    String path = paths[i % paths.length];
                    RawHttp c = null;
                    connecting.lock();
                    long t0 = System.nanoTime(); // the probe's own time: from its connect, not the wait for the lock
                    try {
                        c = new RawHttp(source, port);
                        c.socket.setSoTimeout(5000);
                        c.writeRequest("GET", path, null, null);
                    } catch (IOException e) {
                        probes.add(new Probe(path, 0, (System.nanoTime() - t0) / 1_000_000, e.toString()));
                    } finally {
                        connecting.unlock();
                    }
                    if (c != null) {
                        try (RawHttp open = c) {
                            RawHttp.Response r = open.read();
                            probes.add(new Probe(path, r.status(), (System.nanoTime() - t0) / 1_000_000, null));
                        } catch (IOException e) {
                            probes.add(new Probe(path, 0, (System.nanoTime() - t0) / 1_000_000, e.toString()));
                        }
                    }
                    try {
                        Thread.sleep(periodMs);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "prober-" + source);
            thread.setDaemon(true);
            thread.start();
        }

        /** Stops probing; asserts every probe got 200 within the probe timeout; returns the probes. */
        List<Probe> assertAllAnswered(int atLeast) throws InterruptedException {
            return assertAllAnswered(atLeast, PROBE_TIMEOUT_MS);
        }

        /** Stops probing; asserts every probe got 200 within {@code timeoutMs}; returns the probes. */
        List<Probe> assertAllAnswered(int atLeast, long timeoutMs) throws InterruptedException {
            close();
            List<Probe> all = new ArrayList<>(probes);
            long[] ms = all.stream().mapToLong(Probe::millis).sorted().toArray();
            System.out.printf(Locale.ROOT, "probes: %d, median %d ms, max %d ms%n", ms.length,
                    ms.length == 0 ? 0 : ms[ms.length / 2], ms.length == 0 ? 0 : ms[ms.length - 1]);
            assertTrue(all.size() >= atLeast, "only " + all.size() + " probes ran");
            for (Probe p : all) {
                assertEquals(200, p.status(), "probe " + p);
                assertTrue(p.millis() < timeoutMs, "probe " + p + " took longer than a probe waits");
            }
            return all;
        }

        @Override
        public void close() throws InterruptedException {
            running.set(false);
            thread.join(10_000);
        }
    }

    /** Skips (saying why) where the process may not open the sockets a test needs, client and server side. */
    static void assumeFileDescriptors(long needed) {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.UnixOperatingSystemMXBean os) {
            long max = os.getMaxFileDescriptorCount();
            Assumptions.assumeTrue(max - os.getOpenFileDescriptorCount() > needed,
                    "this test needs " + needed + " file descriptors; the limit is " + max + " (ulimit -n)");
        }
    }

    /** Asserts a refusal: the status, exactly {"error": "..."}, Retry-After, and the connection ending. */
    static String assertRefused(RawHttp.Response r, int status) throws IOException {
        assertEquals(status, r.status(), r.headers() + r.body());
        JsonNode n = ServerFixture.JSON.readTree(r.body());
        assertTrue(n.isObject() && n.size() == 1 && n.path("error").isTextual(), r.body());
        String h = r.headers().toLowerCase(Locale.ROOT);
        assertTrue(h.contains("\r\nretry-after: 1\r\n"), r.headers());
        assertTrue(h.contains("\r\nconnection: close\r\n"), r.headers());
        return n.get("error").asText();
    }

    /** Asserts a 408 for a body that stopped arriving: exactly {"error": "..."}, connection ending; returns the message. */
    static String assertTimedOut(RawHttp.Response r) throws IOException {
        assertEquals(408, r.status(), r.headers() + r.body());
        JsonNode n = ServerFixture.JSON.readTree(r.body());
        assertTrue(n.isObject() && n.size() == 1 && n.path("error").isTextual(), r.body());
        assertTrue(r.headers().toLowerCase(Locale.ROOT).contains("\r\nconnection: close\r\n"), r.headers());
        return n.get("error").asText();
    }

    /** Opens {@code n} attack connections from {@code source}, each sending {@code request}. */
    static List<RawHttp> attack(String source, int port, int n, String request) throws IOException {
        return attack(source, port, n, request, new ReentrantLock());
    }

    /** {@link #attack(String, int, int, String)}, opening and writing each connection under {@code connecting}. */
    static List<RawHttp> attack(String source, int port, int n, String request, Lock connecting) throws IOException {
        List<RawHttp> attack = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            connecting.lock();
            try {
                RawHttp c = new RawHttp(source, port);
                attack.add(c);
                c.write(request);
            } finally {
                connecting.unlock();
            }
        }
        return attack;
    }

    /**
     * What the attack connections got: "waiting" (nothing yet: within the share, its body awaited), a status
     * code (every answer is checked to be a JSON refusal), or "closed" (closed without an answer).
     */
    static Map<String, Integer> outcomes(List<RawHttp> attack) throws IOException {
        Map<String, Integer> got = new TreeMap<>();
        for (RawHttp c : attack) {
            String outcome;
            if (c.silentFor(1)) {
                outcome = "waiting";
            } else {
                try {
                    RawHttp.Response r = c.read();
                    assertRefused(r, r.status());
                    outcome = Integer.toString(r.status());
                } catch (IOException closed) {
                    outcome = "closed";
                }
            }
            got.merge(outcome, 1, Integer::sum);
        }
        return got;
    }

    static void closeAll(List<RawHttp> connections) {
        for (RawHttp c : connections) {
            try {
                c.close();
            } catch (IOException ignored) {
                // closing our end of a connection the server may already have closed
            }
        }
    }

    private static void inferenceServed(int port, String source) throws IOException {
        inferenceServed(port, source, new ReentrantLock());
    }

    /** Inference from {@code source} is answered; the connection opens and sends under {@code connecting}. */
    private static void inferenceServed(int port, String source, Lock connecting) throws IOException {
        RawHttp opened;
        connecting.lock();
        try {
            opened = new RawHttp(source, port);
            try {
                opened.writeRequest("POST", "/v2/models/iris/infer", "Bearer infer-tok", inferBody(ROWS, null));
            } catch (IOException e) {
                opened.close();
                throw e;
            }
        } finally {
            connecting.unlock();
        }
        try (RawHttp c = opened) {
            RawHttp.Response r = c.read();
            assertEquals(200, r.status(), r.body());
            assertEquals(3, ServerFixture.JSON.readTree(r.body()).path("outputs").path(0).path("data").size(), r.body());
        }
    }

    private void slowBodiesFromOneAddress(int connections) throws Exception {
        assumeFileDescriptors(2L * connections + 500);
        // the reviewer's server: tokens set, every client limit at its default
        try (ServerFixture f = new ServerFixture(tmp, b -> b.inferenceToken("infer-tok").adminToken("admin-tok"))) {
            int port = f.server.port();
            int share = ServerConfig.DEFAULT_MAX_CONNECTIONS_PER_CLIENT;
            List<RawHttp> attack = new ArrayList<>();
            try (Prober probes = new Prober(ATTACKER, port, 200, "/v2/health/live", "/v2/health/ready")) {
                attack.addAll(attack(ATTACKER, port, connections, SLOW_BODY));
                long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(4);
                while (System.nanoTime() < until) {
                    inferenceServed(port, OTHER); // other callers: unaffected
                    // a keep-alive client library on the attacked address: health answered, connection reopened as told
                    assertEquals(200, f.get("/v2/health/ready").statusCode());
                    Thread.sleep(250);
                }
                // the attacked address's own inference request is refused with an answer, not a closed connection
                try (RawHttp c = new RawHttp(ATTACKER, port)) {
                    RawHttp.Response r = c.send("POST", "/v2/models/iris/infer", "Bearer infer-tok", inferBody(ROWS, null));
                    assertTrue(assertRefused(r, 429).contains("too many connections"), r.body());
                    c.socket.setSoTimeout(5000);
                    assertTrue(c.closedByServer(), "a probation connection ends after its answer");
                }
                probes.assertAllAnswered(8);
                Map<String, Integer> got = outcomes(attack);
                System.out.println(connections + " slow bodies from one address: " + got);
                // within the share, bodies are awaited (a probe in flight may hold a place of it); beyond, 429
                int waiting = got.getOrDefault("waiting", 0);
                assertTrue(waiting <= share && waiting >= share - 3, got.toString());
                assertEquals(connections, waiting + got.getOrDefault("429", 0), got.toString());
            } finally {
                closeAll(attack);
            }
        }
    }

    @Test
    void theReviewersAttackFromTheProbesOwnAddress() throws Exception {
        slowBodiesFromOneAddress(300);
    }

    @Test
    void twoThousandSlowBodiesFromTheProbesOwnAddress() throws Exception {
        slowBodiesFromOneAddress(2000);
    }

    @Test
    void overTheShareEveryRequestGetsAnAnswer() throws Exception {
        ServerConfig.ClientLimits limits = ServerConfig.ClientLimits.defaults().withMaxConnectionsPerClient(2);
        try (ServerFixture f = new ServerFixture(tmp, b -> b.clients(limits).inferenceToken("infer-tok"))) {
            int port = f.server.port();
            List<RawHttp> held = attack(ATTACKER, port, 2, SLOW_BODY);
            try {
                Thread.sleep(200);
                // non-public routes, with or without a body, answered 429 at once; the slow body is not awaited
                try (RawHttp c = new RawHttp(ATTACKER, port)) {
                    c.write(SLOW_BODY);
                    assertRefused(c.read(), 429);
                }
                for (String path : List.of("/v2/models/iris", "/v2", "/v2/models/iris/ready", "/admin/models")) {
                    try (RawHttp c = new RawHttp(ATTACKER, port)) {
                        assertRefused(c.send("GET", path, "Bearer infer-tok", null), 429);
                    }
                }
                // public routes (and the metrics scrape, with its token) answered, once per connection: a pipelined
                // second request is not served
                for (String path : List.of("/v2/health/live", "/v2/health/ready", "/metrics", "/openapi.json")) {
                    try (RawHttp c = new RawHttp(ATTACKER, port)) {
                        String auth = path.equals("/metrics") ? "Authorization: Bearer infer-tok\r\n" : "";
                        c.write("GET " + path + " HTTP/1.1\r\nHost: x\r\n" + auth + "\r\nGET " + path
                                + " HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n");
                        RawHttp.Response r = c.read();
                        assertEquals(200, r.status(), r.body());
                        assertTrue(r.headers().toLowerCase(Locale.ROOT).contains("\r\nconnection: close\r\n"), r.headers());
                        assertFalse(r.body().contains("HTTP/1.1 "), "the pipelined request was answered: " + r.body());
                        c.socket.setSoTimeout(5000);
                        assertTrue(c.closedByServer(), "probation connections close after one answer");
                    }
                }
                // a probation connection that sends nothing is closed at the probation timeout, well before the header timeout
                try (RawHttp c = new RawHttp(ATTACKER, port)) {
                    long t0 = System.nanoTime();
                    c.socket.setSoTimeout(8000);
                    assertTrue(c.closedByServer());
                    long ms = (System.nanoTime() - t0) / 1_000_000;
                    assertTrue(ms < ServerConfig.DEFAULT_HEADER_TIMEOUT_MS / 2, "closed after " + ms + " ms");
                }
                // the metrics say what happened
                f.bearer = "infer-tok";
                HttpResponse<String> m = f.get("/metrics");
                assertTrue(m.body().contains("dense4j_requests_refused_total{connector=\"main\",reason=\"probation\"} 5.0"), m.body());
                inferenceServed(port, OTHER);
            } finally {
                closeAll(held);
            }
            // once its connections are gone the client is served in full again
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (f.server.connectionGuard().connectionsOf(ATTACKER) > 0 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            inferenceServed(port, ATTACKER);
        }
    }

    @Test
    void aConnectionFloodFromOneAddressLeavesItsProbesAndOthersAnswered() throws Exception {
        assumeFileDescriptors(2 * 1500 + 500);
        // a small connector cap, so the flood reaches it: near the cap, the heaviest client's connections make room
        ServerConfig.ClientLimits limits = ServerConfig.ClientLimits.defaults().withMaxConnectionsPerClient(50)
                .withMaxConnections(400);
        try (ServerFixture f = new ServerFixture(tmp, b -> b.clients(limits).inferenceToken("infer-tok"))) {
            int port = f.server.port();
            List<RawHttp> flood = new ArrayList<>();
            // every connection of this test opens and sends its first bytes under this lock (see Prober); fair, so
            // that the flood does not keep the probes waiting
            Lock connecting = new ReentrantLock(true);
            try (Prober same = new Prober(ATTACKER, port, 200, connecting, "/v2/health/live", "/v2/health/ready");
                 Prober other = new Prober(OTHER, port, 200, connecting, "/v2/health/ready")) {
                // connections that never send a byte, then ones that trickle a request, 1500 in all
                flood.addAll(attack(ATTACKER, port, 1000, "", connecting));
                flood.addAll(attack(ATTACKER, port, 500, "GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ", connecting));
                Thread.sleep(2000); // the probes go on meanwhile (the test's timeline, not a synchronisation)
                inferenceServed(port, OTHER, connecting);
                assertTrue(f.server.connectionGuard().cappedConnections() <= 400,
                        "open connections " + f.server.connectionGuard().cappedConnections());
                same.assertAllAnswered(5);
                other.assertAllAnswered(5);
            } finally {
                closeAll(flood);
            }
            assertTrue(f.server.connectionGuard().shedConnections() > 0, "the flood reached the cap");
        }
    }

    @Test
    void manyAddressesAtTheCapStillLeaveRoomForANewClient() throws Exception {
        // five attacking addresses, each within its share, together over the connector's cap
        ServerConfig.ClientLimits limits = ServerConfig.ClientLimits.defaults().withMaxConnectionsPerClient(40)
                .withMaxConnections(120);
        try (ServerFixture f = new ServerFixture(tmp, b -> b.clients(limits).inferenceToken("infer-tok"))) {
            int port = f.server.port();
            List<RawHttp> attack = new ArrayList<>();
            try {
                ConnectionGuard guard = f.server.connectionGuard();
                for (int a = 0; a < 5; a++) {
                    attack.addAll(attack("127.0.0." + (a + 12), port, 40, SLOW_BODY));
                    // one address after the other, once the server has accepted and read their requests (one it
                    // has not read yet can only be closed if it must be shed; that comes last, but comes)
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                    while ((guard.admittedConnections() < 40L * (a + 1) || guard.connectionsIn(GuardedConnection.Phase.HEADERS) > 0)
                            && System.nanoTime() < deadline) {
                        Thread.sleep(20);
                    }
                }
                assertTrue(f.server.connectionGuard().cappedConnections() <= 120);
                try (Prober probes = new Prober(ATTACKER, port, 100, "/v2/health/live", "/v2/health/ready")) {
                    for (int i = 0; i < 5; i++) {
                        inferenceServed(port, ATTACKER);
                        inferenceServed(port, OTHER);
                    }
                    Thread.sleep(1000);
                    probes.assertAllAnswered(5);
                }
                // the slow bodies shed to make room were answered 503, not dropped
                Map<String, Integer> got = outcomes(attack);
                System.out.println("many addresses at the cap: " + got);
                assertTrue(got.getOrDefault("503", 0) > 0, got.toString());
                assertFalse(got.containsKey("closed"), got.toString());
            } finally {
                closeAll(attack);
            }
        }
    }
}
