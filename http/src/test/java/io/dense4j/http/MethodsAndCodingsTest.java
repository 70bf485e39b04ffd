package io.dense4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.javalin.http.HandlerType;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the server says about methods and content codings, on every path of its route table: OPTIONS lists a path's
 * methods (204, {@code Allow}) to anyone, a method the path lacks is a 405 with the same {@code Allow}, an unknown
 * path stays 404; a body in a content coding the server does not decode is a 415 with {@code Accept-Encoding} on
 * every route that reads a body, after the route's own credentials are checked, and changes nothing.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class MethodsAndCodingsTest {
    @TempDir
    Path tmp;

    /** A request path for a route's template: every parameter a plain word. */
    static String concrete(String template, long task) {
        return template.replace("{task}", Long.toString(task)).replaceAll("\\{[^}]*}", "p1");
    }

    /** The methods each path of the table has, computed here from the table (paths equal up to parameter names). */
    static Map<String, Set<String>> expectedMethods(List<Route> routes) {
        Map<String, Set<String>> out = new LinkedHashMap<>();
        for (Route r : routes) {
            Set<String> m = out.computeIfAbsent(r.path().replaceAll("\\{[^}]*}", "*"), k -> new TreeSet<>());
            m.add(r.method().name());
            if (r.method().equals(HandlerType.GET)) {
                m.add("HEAD");
            }
            m.add("OPTIONS");
        }
        return out;
    }

    static Set<String> allow(HttpResponse<String> r) {
        String a = r.headers().firstValue("Allow").orElse("");
        return Arrays.stream(a.split(",")).map(String::trim).filter(s -> !s.isEmpty()).collect(Collectors.toCollection(TreeSet::new));
    }

    @Test
    void optionsListsEveryPathsMethodsToAnyoneAndOtherMethodsAre405() {
        try (TrainingFixture f = new TrainingFixture(tmp, t -> t)) {
            List<Route> routes = f.server.routes();
            Map<String, Set<String>> expected = expectedMethods(routes);
            int paths = 0;
            for (Route r : routes) {
                String path = concrete(r.path(), 7);
                Set<String> methods = expected.get(r.path().replaceAll("\\{[^}]*}", "*"));
                // no credentials at all, even on admin, training and federated paths: only methods are revealed
                HttpResponse<String> o = f.send(HttpRequest.newBuilder(URI.create(f.base + path))
                        .method("OPTIONS", HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofSeconds(30)).build());
                assertEquals(204, o.statusCode(), "OPTIONS " + path + ": " + o.body());
                assertEquals(methods, allow(o), "OPTIONS " + path);
                assertEquals("", o.body());
                HttpResponse<String> p = f.send(HttpRequest.newBuilder(URI.create(f.base + path))
                        .method("PATCH", HttpRequest.BodyPublishers.ofString("{}")).timeout(Duration.ofSeconds(30)).build());
                assertEquals(405, p.statusCode(), "PATCH " + path + ": " + p.body());
                assertEquals(methods, allow(p), "PATCH " + path);
                assertTrue(TrainingClient.json(p).get("error").asText().contains("PATCH is not allowed"), p.body());
                paths++;
            }
            assertTrue(paths > 40, "the whole table was walked: " + paths);
            // a method the table has elsewhere but not on this path, and a trailing slash
            HttpResponse<String> d = f.delete("/v2/models/iris/infer/", TrainingFixture.INFERENCE);
            assertEquals(405, d.statusCode(), d.body());
            assertEquals(Set.of("POST", "OPTIONS"), allow(d));
            // unknown paths stay 404, whatever the method
            for (String method : List.of("OPTIONS", "GET", "PATCH")) {
                HttpResponse<String> u = f.send(HttpRequest.newBuilder(URI.create(f.base + "/v2/models/iris/infer/more"))
                        .method(method, HttpRequest.BodyPublishers.noBody()).timeout(Duration.ofSeconds(30)).build());
                assertEquals(404, u.statusCode(), method + ": " + u.body());
                assertTrue(u.headers().firstValue("Allow").isEmpty());
                assertTrue(TrainingClient.json(u).get("error").asText().contains("no such endpoint"), u.body());
            }
            // a route's own 404 (an unknown model) is not turned into a 405
            HttpResponse<String> m = f.get("/v2/models/nope", TrainingFixture.INFERENCE);
            assertEquals(404, m.statusCode(), m.body());
        }
    }

    /**
     * {@code OPTIONS *} (the asterisk form, RFC 9110 9.3.7) asks about the server itself: 204 with every method of the
     * table in {@code Allow}, to anyone, on a connection that stays open; the asterisk with any other method is a 400.
     */
    @Test
    void optionsAsteriskListsTheServersMethods() throws Exception {
        try (TrainingFixture f = new TrainingFixture(tmp, t -> t); RawHttp raw = new RawHttp(f.server.port())) {
            Set<String> all = new TreeSet<>();
            expectedMethods(f.server.routes()).values().forEach(all::addAll);
            assertEquals(Set.of("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"), all);
            for (int i = 0; i < 2; i++) { // twice on one connection: it is kept alive
                raw.write("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
                RawHttp.Response r = raw.read();
                assertEquals(204, r.status(), r.headers() + r.body());
                String allow = r.headers().lines().filter(l -> l.toLowerCase(Locale.ROOT).startsWith("allow:"))
                        .findFirst().orElse("allow:").substring(6);
                assertEquals(all, Arrays.stream(allow.split(",")).map(String::trim).filter(m -> !m.isEmpty())
                        .collect(Collectors.toCollection(TreeSet::new)), r.headers());
                assertEquals("", r.body());
            }
            assertEquals(200, raw.send("GET", "/v2/health/live", null, null).status());
        }
        try (TrainingFixture f = new TrainingFixture(tmp.resolve("get"), t -> t); RawHttp raw = new RawHttp(f.server.port())) {
            raw.write("GET * HTTP/1.1\r\nHost: x\r\n\r\n");
            assertEquals(400, raw.read().status());
        }
    }

    static byte[] gzip(String text) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (GZIPOutputStream z = new GZIPOutputStream(b)) {
            z.write(text.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return b.toByteArray();
    }

    @Test
    void aBodyInAContentCodingIs415OnEveryRouteThatReadsOneAndChangesNothing() {
        try (TrainingFixture f = new TrainingFixture(tmp, t -> t)) {
            FederatedFixture.Task task = FederatedFixture.create(f, TrainingFixture.ADMIN,
                    "{\"rounds\": 1, \"clients_per_round\": 2, \"min_clients\": 2}", "[\"a\", \"b\"]");
            JsonNode before = FederatedFixture.status(f, TrainingFixture.ADMIN, task.id());
            Map<Role, String> tokens = Map.of(Role.ADMIN, TrainingFixture.ADMIN, Role.TRAINING, TrainingFixture.ALICE,
                    Role.INFERENCE, TrainingFixture.INFERENCE, Role.FEDERATED, task.token("a"));
            byte[] body = gzip("{\"inputs\": []}\n");
            int checked = 0;
            for (Route r : f.server.routes()) {
                if (r.maxBodyBytes() <= 0) {
                    continue;
                }
                String path = concrete(r.path(), task.id());
                HttpRequest.Builder b = f.req(path, tokens.get(r.role())).header("Content-Encoding", "gzip")
                        .header("Content-Type", r.upload() && path.startsWith("/v1/datasets") ? "text/csv"
                                : "application/json")
                        .method(r.method().name(), HttpRequest.BodyPublishers.ofByteArray(body));
                HttpResponse<String> a = f.send(b.build());
                assertEquals(415, a.statusCode(), r.key() + ": " + a.body());
                assertEquals("identity", a.headers().firstValue("Accept-Encoding").orElse(null), r.key());
                assertTrue(TrainingClient.json(a).get("error").asText().contains("content coding 'gzip'"), a.body());
                checked++;
            }
            assertTrue(checked > 15, "every body-reading route: " + checked);
            // other codings, spellings and lists; the credentials come first
            for (String coding : List.of("br", "deflate", "x-gzip", "GZIP", "identity, gzip", "zstd")) {
                HttpResponse<String> a = f.send(f.req("/v1/jobs", TrainingFixture.ALICE).header("Content-Encoding", coding)
                        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build());
                assertEquals(415, a.statusCode(), coding + ": " + a.body());
            }
            HttpResponse<String> stranger = f.send(f.req("/v1/jobs", "wrong-token").header("Content-Encoding", "gzip")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build());
            assertEquals(403, stranger.statusCode(), stranger.body());
            // identity is no coding at all: the body is read (and here found wanting, as JSON)
            HttpResponse<String> plain = f.send(f.req("/v1/jobs", TrainingFixture.ALICE).header("Content-Encoding", "identity")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"type\": \"nope\"}")).build());
            assertNotEquals(415, plain.statusCode(), plain.body());
            assertEquals(400, plain.statusCode(), plain.body());
            // nothing was kept or changed
            assertEquals(0, TrainingClient.json(f.get("/v1/datasets", TrainingFixture.ADMIN)).get("datasets").size());
            assertEquals(0, TrainingClient.json(f.get("/v1/jobs", TrainingFixture.ADMIN)).get("jobs").size());
            JsonNode after = FederatedFixture.status(f, TrainingFixture.ADMIN, task.id());
            assertEquals(before.get("rounds_run"), after.get("rounds_run"));
            assertEquals(before.get("state"), after.get("state"));
            assertEquals(404, f.get("/admin/models/p1", TrainingFixture.ADMIN).statusCode(), "no model was uploaded");
        }
    }
}
