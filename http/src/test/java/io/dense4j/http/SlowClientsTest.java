package io.dense4j.http;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.dense4j.http.ServerFixture.inferBody;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hundreds of slow connections (slowloris headers, bodies that stop after 9 of 1000 declared bytes, bodies that
 * trickle, requests pipelined behind answered ones, clients that never read their answers) must not take the
 * server down: health checks and other clients are answered at once; the server answers a body that missed its
 * deadline with 408 and closes connections whose headers missed theirs; a slow reader holds at most its
 * client's share of threads. The attackers connect from other loopback addresses (127.0.0.2, 127.0.0.20) than
 * the legitimate clients (127.0.0.1); {@link SameAddressAttackTest} attacks from the probes' own address.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SlowClientsTest {
    private static final float[][] ROWS = {{5.1f, 3.5f, 1.4f, 0.2f}};
    private static final int SLOW_BODIES = 300;
    private static final int SLOW_HEADERS = 100;

    @TempDir
    Path tmp;

    private static ServerConfig.ClientLimits limits(int perClient) {
        return ServerConfig.ClientLimits.defaults().withMaxConnectionsPerClient(perClient)
                .withHeaderTimeout(Duration.ofSeconds(2)).withBodyTimeout(Duration.ofSeconds(3));
    }

    /** Answers within a second and a half: a probe's usual timeout is one to a few seconds. */
    private static void answersPromptly(int port, String path, int expected) throws IOException {
        long t0 = System.nanoTime();
        try (RawHttp c = new RawHttp("127.0.0.1", port)) {
            RawHttp.Response r = c.send("GET", path, null, null);
            assertEquals(expected, r.status(), r.body());
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms < 1500, path + " took " + ms + " ms");
    }

    @Test
    void slowConnectionsDoNotStarveHealthChecksOrOtherClients() throws Exception {
        try (ServerFixture f = new ServerFixture(tmp, b -> b.clients(limits(SLOW_BODIES + SLOW_HEADERS + 10)).healthPort(0))) {
            int port = f.server.port();
            List<RawHttp> slow = new ArrayList<>();
            try {
                for (int i = 0; i < SLOW_BODIES; i++) {
                    RawHttp c = new RawHttp("127.0.0.2", port);
                    c.write("POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"inputs\"");
                    slow.add(c);
                }
                for (int i = 0; i < SLOW_HEADERS; i++) {
                    RawHttp c = new RawHttp("127.0.0.2", port);
                    c.write("GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ");
                    slow.add(c);
                }
                Thread.sleep(300);
                for (int i = 0; i < 5; i++) {
                    answersPromptly(port, "/v2/health/live", 200);
                    answersPromptly(port, "/v2/health/ready", 200);
                    answersPromptly(f.server.healthPort(), "/v2/health/ready", 200);
                }
                try (RawHttp c = new RawHttp("127.0.0.1", port)) {
                    assertEquals(200, c.send("POST", "/v2/models/iris/infer", null, inferBody(ROWS, null)).status());
                }
                // slowloris keeps trickling: one more header byte every half second does not extend the deadline
                long t0 = System.nanoTime();
                for (int k = 0; k < 4; k++) {
                    for (int i = SLOW_BODIES; i < slow.size(); i++) {
                        try {
                            slow.get(i).write("a");
                        } catch (IOException closed) {
                            // already closed by the server
                        }
                    }
                    Thread.sleep(500);
                }
                // every slow connection is closed by the server once its deadline (2 s headers, 3 s body) passes; a
                // body that stopped arriving is answered 408 first (its headers were a request), slow headers are not
                int closed = 0;
                int timedOut = 0;
                for (RawHttp c : slow) {
                    c.socket.setSoTimeout((int) Math.max(1, 8000 - (System.nanoTime() - t0) / 1_000_000));
                    if (slow.indexOf(c) < SLOW_BODIES) {
                        RawHttp.Response r = c.read();
                        assertEquals("request body not received within 3000 ms", SameAddressAttackTest.assertTimedOut(r));
                        timedOut++;
                    }
                    if (c.closedByServer()) {
                        closed++;
                    }
                }
                assertEquals(SLOW_BODIES, timedOut, "slow bodies answered 408");
                assertEquals(slow.size(), closed, "slow connections closed by the server");
                answersPromptly(port, "/v2/health/live", 200);
            } finally {
                for (RawHttp c : slow) {
                    c.close();
                }
            }
        }
    }

    @Test
    void clientsThatReadSlowlyHoldNoMoreThanTheirShareOfThreads() throws Exception {
        // each connection asks for the OpenAPI document (58 KB) 90 times over, pipelined, and never reads: once the
        // kernel's send buffer (4 MiB at most) is full, writing an answer blocks the thread that writes it
        int share = 4;
        try (ServerFixture f = new ServerFixture(tmp, b -> b.clients(limits(100).withMaxActiveRequestsPerClient(share)))) {
            int port = f.server.port();
            String slowReader = "127.0.0.20";
            List<RawHttp> readers = new ArrayList<>();
            try {
                for (int i = 0; i < 12; i++) {
                    RawHttp c = new RawHttp(slowReader, port, 2048);
                    c.write("GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n".repeat(90));
                    readers.add(c);
                }
                ConnectionGuard guard = f.server.connectionGuard();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                int active = 0;
                while (active < share && System.nanoTime() < deadline) {
                    Thread.sleep(100);
                    active = guard.activeRequestsOf(slowReader);
                    assertTrue(active <= share, active + " requests of one client hold threads");
                }
                assertEquals(share, active, "the slow readers hold their share of threads (else this tests nothing)");
                Thread.sleep(500);
                assertEquals(share, guard.activeRequestsOf(slowReader));
                // the slow reader's further requests are refused with an answer, its probes are still answered
                try (RawHttp c = new RawHttp(slowReader, port)) {
                    RawHttp.Response r = c.send("POST", "/v2/models/iris/infer", null, inferBody(ROWS, null));
                    assertEquals(429, r.status(), r.body());
                    assertTrue(r.body().contains("too many requests in progress"), r.body());
                    assertTrue(r.headers().contains("Retry-After: 1"), r.headers());
                }
                answersPromptly(port, "/v2/health/live", 200);
                try (RawHttp c = new RawHttp(slowReader, port)) {
                    assertEquals(200, c.send("GET", "/v2/health/ready", null, null).status());
                }
                assertTrue(guard.busyRequests() > 0);
                // everyone else is served
                try (RawHttp c = new RawHttp("127.0.0.1", port)) {
                    assertEquals(200, c.send("POST", "/v2/models/iris/infer", null, inferBody(ROWS, null)).status());
                    assertEquals(200, c.send("GET", "/openapi.json", null, null).status());
                }
            } finally {
                for (RawHttp c : readers) {
                    c.close();
                }
            }
            // once the slow readers are gone their threads come back
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (f.server.connectionGuard().activeRequestsOf(slowReader) > 0 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertEquals(0, f.server.connectionGuard().activeRequestsOf(slowReader));
        }
    }

    @Test
    void aRequestPipelinedBehindAnAnsweredOneHasItsHeaderDeadline() throws Exception {
        try (ServerFixture f = new ServerFixture(tmp, b -> b.clients(limits(10)))) {
            try (RawHttp c = new RawHttp("127.0.0.1", f.server.port())) {
                // in one packet: a whole request, then the start of another that never ends
                c.write("GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\nGET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ");
                assertEquals(200, c.read().status());
                long t0 = System.nanoTime();
                c.socket.setSoTimeout(8000); // the idle timeout is 30 s: closing sooner is the header deadline's doing
                assertTrue(c.closedByServer(), "the partial request is cut at its header deadline");
                long ms = (System.nanoTime() - t0) / 1_000_000;
                assertTrue(ms >= 1500 && ms < 6000, "closed after " + ms + " ms (header timeout 2 s)");
            }
        }
    }

    @Test
    void tricklingBodiesMeetTheBodyDeadlineHoweverTheyAreFramed() throws Exception {
        // a byte every 200 ms never lets the idle timeout fire; the body deadline (3 s from the headers) does
        try (ServerFixture f = new ServerFixture(tmp, b -> b.clients(limits(10)))) {
            int port = f.server.port();
            try (RawHttp sized = new RawHttp("127.0.0.1", port); RawHttp chunked = new RawHttp("127.0.0.1", port)) {
                sized.write("POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
                chunked.write("POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
                long t0 = System.nanoTime();
                boolean open = true;
                while (open && System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(8)) {
                    Thread.sleep(200);
                    try {
                        sized.write(" ");
                        chunked.write("1\r\n \r\n");
                    } catch (IOException answeredAndClosed) {
                        open = false;
                    }
                    open &= sized.silentFor(1) && chunked.silentFor(1);
                }
                for (RawHttp c : List.of(sized, chunked)) {
                    c.socket.setSoTimeout(5000);
                    assertEquals("request body not received within 3000 ms", SameAddressAttackTest.assertTimedOut(c.read()));
                }
                long ms = (System.nanoTime() - t0) / 1_000_000;
                assertTrue(ms >= 2900 && ms < 6000, "answered after " + ms + " ms");
            }
        }
    }

    @Test
    void aGracefulStopDoesNotWaitForSlowClients() throws Exception {
        ServerFixture f = new ServerFixture(tmp, b -> b.clients(limits(100)).shutdownTimeout(Duration.ofSeconds(20)));
        List<RawHttp> bodies = new ArrayList<>();
        List<RawHttp> others = new ArrayList<>();
        try {
            int port = f.server.port();
            for (int i = 0; i < 20; i++) {
                RawHttp body = new RawHttp("127.0.0.2", port);
                body.write("POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"inputs\"");
                bodies.add(body);
                RawHttp header = new RawHttp("127.0.0.2", port);
                header.write("GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ");
                others.add(header);
                RawHttp idle = new RawHttp("127.0.0.2", port);
                assertEquals(200, idle.send("GET", "/v2/health/live", null, null).status());
                others.add(idle);
            }
            Thread.sleep(300);
            long t0 = System.nanoTime();
            f.close();
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(ms < 5000, "stopping took " + ms + " ms: it waited for the slow clients");
            for (RawHttp c : bodies) {
                c.socket.setSoTimeout(5000);
                RawHttp.Response r = c.read();
                assertEquals(503, r.status(), r.body());
                assertTrue(r.body().contains("shutting down"), r.body());
            }
            for (RawHttp c : others) {
                c.socket.setSoTimeout(5000);
                assertTrue(c.closedByServer());
            }
        } finally {
            f.close();
            for (RawHttp c : bodies) {
                c.close();
            }
            for (RawHttp c : others) {
                c.close();
            }
        }
    }

    /** Many connections per client, a 2 s header and a 6 s body deadline: the body-budget tests' limits. */
    private static ServerConfig.ClientLimits bodyLimits() {
        return ServerConfig.ClientLimits.defaults().withMaxConnectionsPerClient(100)
                .withHeaderTimeout(Duration.ofSeconds(2)).withBodyTimeout(Duration.ofSeconds(6));
    }

    @Test
    void largeBodiesShareABoundedMemoryBudget() throws Exception {
        ServerConfig.ClientLimits limits = bodyLimits();
        try (ServerFixture f = new ServerFixture(tmp, b -> b.clients(limits).maxRequestBytes(4_000_000)
                .maxBufferedBodyBytes(5_000_000))) {
            int port = f.server.port();
            StringBuilder big = new StringBuilder("{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP32\",\"data\":[");
            while (big.length() < 3_000_000) {
                big.append("1,");
            }
            String bigBody = big.append("1]}]}").toString();
            try (RawHttp holder = new RawHttp("127.0.0.2", port)) {
                // declares 4 MB, sends 1 MB (past what is received before dispatch) and stops: it holds the budget
                holder.write("POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 4000000\r\n\r\n"
                        + "{" + " ".repeat(1 << 20));
                Thread.sleep(500);
                try (RawHttp c = new RawHttp("127.0.0.1", port)) {
                    RawHttp.Response r = c.send("POST", "/v2/models/iris/infer", null, bigBody);
                    assertEquals(503, r.status(), r.body());
                    assertTrue(r.body().contains("busy"), r.body());
                }
                // small requests are not starved by it
                try (RawHttp c = new RawHttp("127.0.0.1", port)) {
                    assertEquals(200, c.send("POST", "/v2/models/iris/infer", null, inferBody(ROWS, null)).status());
                }
                holder.socket.setSoTimeout(10_000);
                assertEquals("request body not received within 6000 ms", SameAddressAttackTest.assertTimedOut(holder.read()));
                assertTrue(holder.closedByServer(), "the stalled body is cut off at its deadline");
            }
            try (RawHttp c = new RawHttp("127.0.0.1", port)) {
                RawHttp.Response r = c.send("POST", "/v2/models/iris/infer", null, bigBody);
                assertEquals(400, r.status(), r.body()); // decoded now: too many values for the shape
            }
        }
    }

    /**
     * The budget is reserved from the declared length before the bytes arrive: one client holds at most a quarter of
     * it beyond its first request. Four idle connections declaring maximum bodies took all of it, and every other
     * client's large body got 503.
     */
    @Test
    void oneClientHoldsAtMostAQuarterOfTheBodyBudget() throws Exception {
        ServerConfig.ClientLimits limits = bodyLimits();
        try (ServerFixture f = new ServerFixture(tmp, b -> b.clients(limits).maxRequestBytes(4_000_000)
                .maxBufferedBodyBytes(16_000_000))) {
            int port = f.server.port();
            List<RawHttp> holders = new ArrayList<>();
            try {
                RawHttp first = new RawHttp("127.0.0.3", port);
                holders.add(first);
                first.write("POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 4000000\r\n\r\n"
                        + "{" + " ".repeat(1 << 20));
                Thread.sleep(300);
                for (int i = 0; i < 3; i++) { // the same client's next ones: refused at once, holding nothing
                    RawHttp more = new RawHttp("127.0.0.3", port);
                    holders.add(more);
                    more.write("POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 4000000\r\n\r\n"
                            + "{" + " ".repeat(1 << 20));
                    more.socket.setSoTimeout(5000);
                    RawHttp.Response r = more.read();
                    assertEquals(503, r.status(), r.body());
                    assertTrue(r.body().contains("share"), r.body());
                }
                // another client's large body is decoded (400: too many values for the shape), not refused as busy
                StringBuilder big = new StringBuilder("{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],"
                        + "\"datatype\":\"FP32\",\"data\":[");
                while (big.length() < 3_000_000) {
                    big.append("1,");
                }
                try (RawHttp c = new RawHttp("127.0.0.1", port)) {
                    RawHttp.Response r = c.send("POST", "/v2/models/iris/infer", null, big.append("1]}]}").toString());
                    assertEquals(400, r.status(), r.body());
                }
            } finally {
                for (RawHttp h : holders) {
                    h.close();
                }
            }
        }
    }

    @Test
    void oneClientIsServedInFullOnlyOnItsShareAndTheHealthPortStillAnswers() throws Exception {
        try (ServerFixture f = new ServerFixture(tmp, b -> b.clients(limits(50)).healthPort(0))) {
            int port = f.server.port();
            List<RawHttp> mine = new ArrayList<>();
            try {
                for (int i = 0; i < 50; i++) {
                    RawHttp c = new RawHttp("127.0.0.1", port);
                    c.write("POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{");
                    mine.add(c);
                }
                Thread.sleep(200);
                // the 51st connection from the same address is on probation: inference refused with an answer...
                try (RawHttp extra = new RawHttp("127.0.0.1", port)) {
                    RawHttp.Response r = extra.send("POST", "/v2/models/iris/infer", null, inferBody(ROWS, null));
                    assertEquals(429, r.status(), r.body());
                    assertTrue(ServerFixture.JSON.readTree(r.body()).path("error").asText().contains("too many connections"), r.body());
                    extra.socket.setSoTimeout(3000);
                    assertTrue(extra.closedByServer(), "a probation connection closes after its answer");
                }
                // ...health answered, on the main port as on the health port (own connector, own threads)
                answersPromptly(port, "/v2/health/live", 200);
                answersPromptly(f.server.healthPort(), "/v2/health/live", 200);
                // the health port serves nothing but the probes: not even the other public routes, whose large
                // answers written to slow readers could hold its few threads
                try (RawHttp c = new RawHttp("127.0.0.1", f.server.healthPort())) {
                    assertEquals(404, c.send("POST", "/v2/models/iris/infer", null, inferBody(ROWS, null)).status());
                }
                for (String path : List.of("/metrics", "/openapi.json", "/v2")) {
                    try (RawHttp c = new RawHttp("127.0.0.3", f.server.healthPort())) {
                        assertEquals(404, c.send("GET", path, null, null).status(), path);
                    }
                }
                answersPromptly(f.server.healthPort(), "/v2/health/ready", 200);
                // another client is unaffected
                try (RawHttp c = new RawHttp("127.0.0.2", port)) {
                    assertEquals(200, c.send("POST", "/v2/models/iris/infer", null, inferBody(ROWS, null)).status());
                }
            } finally {
                for (RawHttp c : mine) {
                    c.close();
                }
            }
            // once they are gone (the server sees them close) the client is served in full again
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            int status = 0;
            while (status != 200 && System.nanoTime() < deadline) {
                try (RawHttp c = new RawHttp("127.0.0.1", port)) {
                    status = c.send("POST", "/v2/models/iris/infer", null, inferBody(ROWS, null)).status();
                }
                if (status != 200) {
                    Thread.sleep(100);
                }
            }
            assertEquals(200, status);
        }
    }
}
