package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A bounded fuzz run: a few thousand generated hostile requests (mutated paths of every route, wrong methods,
 * random and forged tokens, mutated and oversized JSON, lying size headers, binary garbage, deep nesting)
 * from a fixed seed. Every request must get an answer; no 5xx other than 503 (not ready, overloaded); every
 * error body is exactly {"error": "..."}; the process's resident memory grows by a bounded amount; and the
 * server still answers correctly afterwards.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class FuzzTest {
    private static final int REQUESTS = 3000;
    private static final long RSS_GROWTH_LIMIT = 768L << 20;

    @TempDir
    Path tmp;

    @Test
    void hostileRequestsGetJsonErrorsAndNoServerErrors() throws Exception {
        try (ServerFixture f = new ServerFixture(tmp, b -> b.inferenceToken("infer-tok").adminToken("admin-tok")
                .maxRequestBytes(1 << 20).maxUploadBytes(1 << 20))) {
            Random rnd = new Random(20261130);
            List<String> templates = new ArrayList<>();
            for (Route r : f.server.routes()) {
                templates.add(r.path());
            }
            Map<Integer, Integer> statuses = new TreeMap<>();
            RawHttp conn = new RawHttp(f.server.port());
            long rss0 = 0;
            try {
                for (int i = 0; i < REQUESTS; i++) {
                    if (i == 200) {
                        System.gc();
                        rss0 = rss();
                    }
                    String method = pick(rnd, "GET", "POST", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS");
                    String path = mutatePath(rnd, pick(rnd, templates.toArray(new String[0])));
                    String auth = pick(rnd, null, "Bearer infer-tok", "Bearer admin-tok", "Bearer INFER-TOK", "Bearer ",
                            "Basic x", "Bearer " + "a".repeat(rnd.nextInt(5000)), "Bearer admin-tok\tx");
                    String extra = pick(rnd, "", "", "Inference-Header-Content-Length: " + pick(rnd, "-1", "0", "5",
                            "99999999999", "abc", "12") + "\r\n", "Content-Type: application/octet-stream\r\n",
                            "X-Actor: " + "\u00e9".repeat(10) + "\r\n");
                    byte[] body = body(rnd);
                    RawHttp.Response r;
                    try {
                        r = exchange(conn, method, path, auth, extra, body);
                    } catch (IOException e) {
                        conn.close();
                        conn = new RawHttp(f.server.port());
                        r = exchange(conn, method, path, auth, extra, body); // a fresh connection must answer
                    }
                    statuses.merge(r.status(), 1, Integer::sum);
                    check(method + " " + path, r);
                    if (r.headers().toLowerCase().contains("connection: close")) {
                        conn.close();
                        conn = new RawHttp(f.server.port());
                    }
                }
            } finally {
                conn.close();
            }
            System.gc();
            long growth = rss() - rss0;
            System.out.println("fuzz: " + REQUESTS + " requests, statuses " + statuses + ", RSS growth "
                    + (growth >> 20) + " MiB");
            assertTrue(growth < RSS_GROWTH_LIMIT, "RSS grew by " + (growth >> 20) + " MiB");
            assertTrue(statuses.keySet().stream().anyMatch(s -> s == 200), "some requests succeeded: " + statuses);
            // the server still works
            f.bearer = "infer-tok";
            assertEquals(200, f.get("/v2/health/live").statusCode());
            ServerFixture.ok(f.get("/v2"));
        }
    }

    private static RawHttp.Response exchange(RawHttp conn, String method, String path, String auth, String extra,
                                             byte[] body) throws IOException {
        StringBuilder h = new StringBuilder(method).append(' ').append(path).append(" HTTP/1.1\r\nHost: localhost\r\n");
        if (auth != null) {
            h.append("Authorization: ").append(auth).append("\r\n");
        }
        h.append(extra).append("Content-Length: ").append(body.length).append("\r\n\r\n");
        byte[] head = h.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] all = java.util.Arrays.copyOf(head, head.length + body.length);
        System.arraycopy(body, 0, all, head.length, body.length);
        conn.socket.getOutputStream().write(all); // one write: no Nagle / delayed-ACK stall between head and body
        return conn.read();
    }

    private static void check(String what, RawHttp.Response r) {
        int s = r.status();
        if (s >= 500 && s != 503 && s != 501) {
            fail(what + " answered " + s + ": " + r.body());
        }
        if (s >= 400) {
            JsonNode n;
            try {
                n = ServerFixture.JSON.readTree(r.body());
            } catch (IOException e) {
                throw new AssertionError(what + " answered " + s + " with a body that is not JSON: " + r.body());
            }
            assertTrue(n != null && n.isObject() && n.size() == 1 && n.path("error").isTextual()
                    && !n.get("error").asText().isBlank(), what + " answered " + s + " with " + r.body());
            assertTrue(!r.body().contains("Exception") && !r.body().contains("\tat "), what + ": " + r.body());
        }
    }

    private static String pick(Random rnd, String... options) {
        return options[rnd.nextInt(options.length)];
    }

    private static String mutatePath(Random rnd, String template) {
        String p = template.replace("{model}", pick(rnd, "iris", "iris", "ghost", "..", "%2e%2e", "a".repeat(300), "iris%00",
                        "ir%69s", "IRIS", "-x", "%ZZ"))
                .replace("{version}", pick(rnd, "1", "2", "0", "-1", "2147483648", "1.0", "stable", "%31", "99"))
                .replace("{alias}", pick(rnd, "stable", "canary", "7up", "a".repeat(100), "%2F"))
                .replace("{label}", pick(rnd, "stable", "nope", "1"))
                .replace("{modelverb}", pick(rnd, "iris:predict", "iris:classify", "iris:", ":predict", "iris"))
                .replace("{versionverb}", pick(rnd, "1:predict", "0:predict", "x:predict", "1:regress"))
                .replace("{labelverb}", pick(rnd, "stable:predict", "1:predict", "nope:predict"));
        return switch (rnd.nextInt(8)) {
            case 0 -> p + "/";
            case 1 -> "/" + p;
            case 2 -> p.replace("/", "//");
            case 3 -> p + "/../" + pick(rnd, "admin/models", "v2/repository/models/iris/unload");
            case 4 -> p + "?" + pick(rnd, "alias=stable", "metric=a:b", "x=%ZZ", "source=" + "s".repeat(1000));
            case 5 -> p.toUpperCase();
            default -> p;
        };
    }

    private static byte[] body(Random rnd) {
        String json = switch (rnd.nextInt(14)) {
            case 0 -> "";
            case 1 -> "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP32\",\"data\":[1,2,3,4]}]}";
            case 2 -> "{\"inputs\":[{\"name\":\"input\",\"shape\":[" + pick(rnd, "2000000,4", "-1,4", "1,99999999999",
                    "2147483647,2147483647", "1e9,4", "1,4,1") + "],\"datatype\":\"" + pick(rnd, "FP32", "FP16", "BYTES",
                    "UINT64", "INT8", "XX") + "\",\"data\":[1]}]}";
            case 3 -> "[".repeat(rnd.nextInt(5000)) + "]".repeat(rnd.nextInt(50));
            case 4 -> "{\"instances\":[[1,2,3,4],[NaN,1,2,3]]}";
            case 5 -> "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP32\",\"parameters\":"
                    + "{\"binary_data_size\":" + pick(rnd, "16", "-16", "1e20", "\"x\"") + "}}]}1234";
            case 6 -> "{\"version\":" + pick(rnd, "1", "2", "-1", "1e10", "\"2\"", "null") + "}";
            case 7 -> "{\"baseline\":1,\"canary\":2,\"canary_percent\":" + pick(rnd, "10", "101", "-1", "1e3") + "}";
            case 8 -> "{\"ready\": " + pick(rnd, "true", "\"x\"", "[]") + "}";
            case 9 -> "{\"inputs\":" + pick(rnd, "{}", "null", "[1]", "[[]]", "[{\"name\":1}]") + "}";
            case 10 -> "\"" + "x".repeat(rnd.nextInt(20000)) + "\"";
            case 11 -> "{\"instances\":[" + "[1,2,3,4],".repeat(rnd.nextInt(100)) + "[1,2,3,4]]}";
            default -> null;
        };
        if (json != null) {
            return json.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        }
        byte[] b = new byte[rnd.nextInt(3000)];
        rnd.nextBytes(b);
        return b;
    }

    /** Resident set size of this process (the server runs in it), from /proc; 0 where there is no /proc. */
    private static long rss() throws IOException {
        Path status = Path.of("/proc/self/status");
        if (!Files.exists(status)) {
            return 0;
        }
        for (Iterator<String> it = Files.readAllLines(status).iterator(); it.hasNext(); ) {
            String line = it.next();
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        return 0;
    }
}
