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
 * Hundreds of slow connections (slowloris headers, bodies that stop after 9 of 1000 declared bytes) must not
 * take the server down: health checks and other clients are answered at once, and the server closes the
 * slow connections once their header or body deadline passes. The attackers connect from 127.0.0.2, the
 * legitimate clients from 127.0.0.1 (both are the loopback).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SlowClientsTest {
    private static final float[][] ROWS = {{5.1f, 3.5f, 1.4f, 0.2f}};
    private static final int SLOW_BODIES = 300;
    private static final int SLOW_HEADERS = 100;

    @TempDir
    Path tmp;

    private static ServerConfig.ClientLimits limits(int perClient) {
        return new ServerConfig.ClientLimits(perClient, 4096, Duration.ofSeconds(2), Duration.ofSeconds(3), Duration.ofSeconds(30));
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
                // every slow connection is closed by the server once its deadline (2 s headers, 3 s body) passes
                int closed = 0;
                for (RawHttp c : slow) {
                    c.socket.setSoTimeout((int) Math.max(1, 8000 - (System.nanoTime() - t0) / 1_000_000));
                    if (c.closedByServer()) {
                        closed++;
                    }
                }
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
    void largeBodiesShareABoundedMemoryBudget() throws Exception {
        ServerConfig.ClientLimits limits = new ServerConfig.ClientLimits(100, 4096, Duration.ofSeconds(2),
                Duration.ofSeconds(6), Duration.ofSeconds(30));
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
                assertTrue(holder.closedByServer(), "the stalled body is cut off at its deadline");
            }
            try (RawHttp c = new RawHttp("127.0.0.1", port)) {
                RawHttp.Response r = c.send("POST", "/v2/models/iris/infer", null, bigBody);
                assertEquals(400, r.status(), r.body()); // decoded now: too many values for the shape
            }
        }
    }

    @Test
    void oneClientCannotHoldMoreThanItsConnectionsAndTheHealthPortStillAnswers() throws Exception {
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
                // the 51st connection from the same address is closed at once
                try (RawHttp extra = new RawHttp("127.0.0.1", port)) {
                    extra.socket.setSoTimeout(3000);
                    assertTrue(extra.closedByServer(), "connection over the per-client limit must be closed");
                }
                // the same client's probe on the health port (own connector, own threads) is answered
                answersPromptly(f.server.healthPort(), "/v2/health/live", 200);
                // the health port serves nothing but the public routes
                try (RawHttp c = new RawHttp("127.0.0.1", f.server.healthPort())) {
                    assertEquals(404, c.send("POST", "/v2/models/iris/infer", null, inferBody(ROWS, null)).status());
                }
                // another client is unaffected
                try (RawHttp c = new RawHttp("127.0.0.2", port)) {
                    assertEquals(200, c.send("POST", "/v2/models/iris/infer", null, inferBody(ROWS, null)).status());
                }
            } finally {
                for (RawHttp c : mine) {
                    c.close();
                }
            }
            // once they are gone (the server sees them close) the client may connect again
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            int status = 0;
            while (status != 200 && System.nanoTime() < deadline) {
                try (RawHttp c = new RawHttp("127.0.0.1", port)) {
                    status = c.send("GET", "/v2/health/live", null, null).status();
                } catch (IOException refused) {
                    Thread.sleep(100);
                }
            }
            assertEquals(200, status);
        }
    }
}
