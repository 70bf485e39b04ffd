package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.dense4j.io.SafeTensors;
import io.dense4j.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

import static io.dense4j.http.ServerFixture.MODEL;
import static io.dense4j.http.ServerFixture.error;
import static io.dense4j.http.ServerFixture.inferBody;
import static io.dense4j.http.ServerFixture.json;
import static io.dense4j.http.ServerFixture.ok;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The attacks of issue 9's review, each kept as a test: path spellings that reached admin handlers, tokens
 * matched case-insensitively on keep-alive connections, small requests declaring huge tensors, small model
 * files declaring huge layers, error messages naming server paths, and the traces a failed admin call left.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ServingAttacksTest {
    private static final float[][] ROWS = {{5.1f, 3.5f, 1.4f, 0.2f}};

    @TempDir
    Path tmp;
    private ServerFixture f;

    private ServerFixture start(UnaryOperator<ServerConfig.Builder> tweak) {
        f = new ServerFixture(tmp, tweak);
        return f;
    }

    @AfterEach
    void stop() {
        if (f != null) {
            f.close();
        }
    }

    /** Every spelling of the admin paths the router might match. */
    private static final List<String> UNLOAD_SPELLINGS = List.of(
            "/v2/repository/models/iris/unload", "/v2/repository/models/iris/unload/", "//v2/repository/models/iris/unload",
            "/v2/repository/models//iris/unload", "/v2/repository/models/iris//unload", "/V2/repository/models/iris/UNLOAD",
            "/v2/repository/models/iris/%75nload", "/v2/repository/models/iris/unload%2F", "/v2/repository/models/iris/./unload",
            "/v2/repository/models/x/../iris/unload", "/v2/repository/models/iris/unload;x=1", "/v2/repository/models/iris/unload?x=/",
            "/admin/models/iris/unload", "/admin/models/iris/unload/", "/admin//models/iris/unload", "/admin/models/iris/%2e/unload",
            "/v2/models/../../admin/models/iris/unload", "/v2/repository/models/iris/unload%20", "/v2/repository/models/iris/unload%00");

    private void assertStillServing() {
        assertEquals(200, f.post("/v2/models/iris/infer", inferBody(ROWS, null)).statusCode(), "the model must still serve");
    }

    @Test
    void noPathSpellingReachesAnAdminRouteWithoutAdminCredentials() throws Exception {
        // 1. management off (no admin token): nobody may unload or load
        start(b -> b);
        for (String path : UNLOAD_SPELLINGS) {
            try (RawHttp raw = new RawHttp(f.server.port())) {
                RawHttp.Response r = raw.send("POST", path, null, "");
                assertNotEquals(200, r.status(), path + " answered " + r.status() + " " + r.body());
                assertTrue(r.status() >= 400 && r.status() < 500, path + ": " + r.status() + " " + r.body());
                assertTrue(r.body().startsWith("{\"error\":"), path + ": " + r.body());
            }
            assertStillServing();
        }
        f.close();
        // 2. tokens set: the inference token alone is not enough, however the path is spelled
        f = new ServerFixture(tmp.resolve("b"), b -> b.inferenceToken("infer-secret").adminToken("adm1n-s3cret"));
        for (String path : UNLOAD_SPELLINGS) {
            for (String auth : new String[] {null, "Bearer infer-secret", "Bearer ADM1N-S3CRET", "bearer  adm1n-s3cret", "Bearer adm1n-s3cret adm1n-s3cret",
                    "Bearer adm1n-s3cret\u0000", "Basic YWRtaW46YWRtMW4tczNjcmV0"}) {
                try (RawHttp raw = new RawHttp(f.server.port())) {
                    RawHttp.Response r = raw.send("POST", path, auth, "");
                    assertNotEquals(200, r.status(), path + " with " + auth + ": " + r.body());
                }
            }
            f.bearer = "infer-secret";
            assertStillServing();
        }
        // the right token on the canonical path works, and only then is the model unloaded
        try (RawHttp raw = new RawHttp(f.server.port())) {
            assertEquals(200, raw.send("POST", "/v2/repository/models/iris/unload", "Bearer adm1n-s3cret", "").status());
        }
        assertEquals(503, f.post("/v2/models/iris/infer", inferBody(ROWS, null)).statusCode());
    }

    @Test
    void tokensAreComparedExactlyOnKeepAliveConnections() throws Exception {
        start(b -> b.inferenceToken("infer-s3cret").adminToken("adm1n-s3cret"));
        try (RawHttp raw = new RawHttp(f.server.port())) {
            assertEquals(200, raw.send("GET", "/admin/models", "Bearer adm1n-s3cret", null).status());
            // same connection, the token in another case: Jetty's header cache must not hand back the first spelling
            RawHttp.Response upper = raw.send("GET", "/admin/models", "Bearer ADM1N-S3CRET", null);
            assertEquals(403, upper.status(), upper.body());
            assertEquals(200, raw.send("GET", "/admin/models", "Bearer adm1n-s3cret", null).status());
            assertEquals(403, raw.send("GET", "/admin/models", "Bearer adm1n-s3creT", null).status());
            assertEquals(403, raw.send("GET", "/admin/models", "Bearer adm1n-s3cret2", null).status());
            assertEquals(403, raw.send("GET", "/admin/models", "Bearer adm1n-s3cre", null).status());
            // inference likewise
            assertEquals(200, raw.send("GET", "/v2/models/iris", "Bearer infer-s3cret", null).status());
            assertEquals(403, raw.send("GET", "/v2/models/iris", "Bearer INFER-S3CRET", null).status());
            assertEquals(200, raw.send("GET", "/v2/models/iris", "BEARER infer-s3cret", null).status()); // the scheme is case-insensitive
        }
        // two Authorization headers: refused, whichever comes first
        try (RawHttp raw = new RawHttp(f.server.port())) {
            raw.write("GET /admin/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer adm1n-s3cret\r\n"
                    + "Authorization: Bearer wrong\r\n\r\n");
            assertEquals(401, raw.read().status());
        }
    }

    @Test
    void declaredShapesAreCheckedAgainstTheDataBeforeAnythingIsAllocated() {
        start(b -> b.maxRequestRows(1000));
        String p = "/v2/models/iris/infer";
        long t0 = System.nanoTime();
        for (String shape : new String[] {"[2000000,4]", "[2739137,4]", "[536870911,4]", "[1001,4]"}) {
            String body = "{\"inputs\":[{\"name\":\"input\",\"shape\":" + shape + ",\"datatype\":\"FP32\",\"data\":[1]}]}";
            String msg = error(f.post(p, body), 400);
            assertTrue(msg.contains("rows") || msg.contains("values"), msg);
        }
        // a dimension past 2^63 is not read as its low 64 bits (2^64 + 1 would be 1 row, matching the data)
        for (String shape : new String[] {"[18446744073709551617,4]", "[1,18446744073709551620]"}) {
            String body = "{\"inputs\":[{\"name\":\"input\",\"shape\":" + shape
                    + ",\"datatype\":\"FP32\",\"data\":[1,2,3,4]}]}";
            assertTrue(error(f.post(p, body), 400).contains("non-negative integers"), shape);
        }
        // within the row limit but with too little data: the count of values is checked first
        String few = "{\"inputs\":[{\"name\":\"input\",\"shape\":[1000,4],\"datatype\":\"FP32\",\"data\":[1,2,3]}]}";
        assertTrue(error(f.post(p, few), 400).contains("3 values"));
        // binary extension: a huge declared size and a tiny body
        String header = "{\"inputs\":[{\"name\":\"input\",\"shape\":[1000,4],\"datatype\":\"FP64\","
                + "\"parameters\":{\"binary_data_size\":32000}}]}";
        HttpRequest bin = f.req(p).header("Inference-Header-Content-Length", Integer.toString(header.length()))
                .POST(HttpRequest.BodyPublishers.ofString(header + "12345678")).build();
        assertTrue(error(f.send(bin), 400).contains("bytes of binary data"));
        // TF Serving rows likewise
        StringBuilder many = new StringBuilder("{\"instances\":[");
        for (int i = 0; i < 1001; i++) {
            many.append(i == 0 ? "" : ",").append("[1,2,3,4]");
        }
        assertTrue(error(f.post("/v1/models/iris:predict", many.append("]}").toString()), 400).contains("at most 1000 rows"));
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(20), "refusals must be immediate");
        assertStillServing();
    }

    /** A valid small model file whose config claims something else (the tensors stay those of a 4-3 model). */
    private Path forgedModel(String name, java.util.function.Consumer<com.fasterxml.jackson.databind.node.ObjectNode> edit)
            throws Exception {
        Path good = TestModels.writeModel(tmp.resolve(name + "-good.d4j"), 1);
        LinkedHashMap<String, Tensor> tensors;
        Map<String, String> meta;
        try (SafeTensors.File st = SafeTensors.read(good)) {
            tensors = st.tensors();
            meta = new LinkedHashMap<>(st.metadata());
        }
        var config = (com.fasterxml.jackson.databind.node.ObjectNode) ServerFixture.JSON.readTree(meta.get("config"));
        edit.accept(config);
        meta.put("config", config.toString());
        Path forged = tmp.resolve(name + ".d4j");
        try {
            SafeTensors.write(forged, tensors, meta);
        } finally {
            tensors.values().forEach(Tensor::close);
        }
        return forged;
    }

    private static com.fasterxml.jackson.databind.node.ObjectNode firstLayer(com.fasterxml.jackson.databind.node.ObjectNode c) {
        return (com.fasterxml.jackson.databind.node.ObjectNode) c.get("layers").get(0);
    }

    private Path manyLayers(int n) throws Exception {
        return forgedModel("layers" + n, c -> {
            var layers = (com.fasterxml.jackson.databind.node.ArrayNode) c.get("layers");
            for (int i = 1; i < n; i++) {
                layers.addObject().put("type", "dense").put("inputs", -1).put("units", 3).put("activation", "relu");
            }
        });
    }

    @Test
    void modelUploadsDeclaringHugeLayersAreRefusedBeforeAnyModelIsBuilt() throws Exception {
        start(b -> b.adminToken("admin-secret"));
        f.bearer = "admin-secret";
        List<Path> bombs = List.of(
                forgedModel("units200k", c -> firstLayer(c).put("units", 200_000)),
                forgedModel("units2m", c -> firstLayer(c).put("units", 2_000_000)),
                forgedModel("units1e9", c -> firstLayer(c).put("units", 1_000_000_000)),
                forgedModel("units1e12", c -> firstLayer(c).put("units", 1_000_000_000_000L)),
                forgedModel("units1e30", c -> firstLayer(c).put("units", new java.math.BigInteger("1000000000000000000000000000000"))),
                forgedModel("inputs2m", c -> firstLayer(c).put("inputs", 2_000_000)),
                forgedModel("unitsFloat", c -> firstLayer(c).put("units", 3.5)),
                manyLayers(5000));
        for (Path bomb : bombs) {
            assertTrue(Files.size(bomb) < 1_000_000, bomb + " is small");
            HttpResponse<String> r = f.send(f.req("/admin/models/iris/versions")
                    .POST(HttpRequest.BodyPublishers.ofFile(bomb)).build());
            String msg = error(r, 400);
            assertTrue(msg.contains("invalid model config"), bomb + ": " + msg);
            assertFalse(msg.contains(tmp.toString()) || msg.contains(".staging") || msg.contains(f.registry.root().toString()),
                    "no server path in " + msg);
        }
        assertEquals(List.of(1, 2), f.registry.versionNumbers(MODEL)); // nothing registered
        // garbage: the message names no path either
        String garbage = error(f.send(f.req("/admin/models/iris/versions").POST(HttpRequest.BodyPublishers.ofString("x".repeat(100)))
                .build()), 400);
        assertFalse(garbage.contains("/"), garbage);
        // the registry API (and so the CLI) refuses them the same way
        for (Path bomb : bombs) {
            var e = org.junit.jupiter.api.Assertions.assertThrows(io.dense4j.registry.RegistryException.class,
                    () -> f.registry.register("other", bomb, io.dense4j.registry.RegisterOptions.defaults()));
            assertTrue(e.getMessage().contains("invalid model config"), e.getMessage());
        }
        assertFalse(f.registry.exists("other"));
    }

    @Test
    void badVersionsOnReadyAre400AndUnknownModelsLeaveNoTrace() {
        start(b -> b.adminToken("admin-secret"));
        for (String v : new String[] {"0", "2147483648", "1.0", "-1", "99999999999"}) {
            error(f.get("/v2/models/iris/versions/" + v + "/ready"), 400);
            error(f.get("/v2/models/iris/versions/" + v), 400);
        }
        error(f.get("/v2/models/iris/versions/9/ready"), 404);
        f.bearer = "admin-secret";
        error(f.put("/admin/models/ghost/aliases/stable", "{\"version\": 1}"), 404);
        error(f.post("/admin/models/ghost/aliases/stable/rollback", ""), 404);
        error(f.put("/admin/models/ghost/traffic", "{\"baseline\": 1, \"canary\": 2, \"canary_percent\": 5}"), 404);
        error(f.delete("/admin/models/ghost/traffic"), 404);
        error(f.post("/admin/models/ghost/load", ""), 404);
        error(f.post("/admin/models/ghost/unload", ""), 404);
        error(f.get("/v2/models/ghost/ready"), 404);
        String metrics = f.get("/metrics").body();
        assertFalse(metrics.contains("ghost"), metrics);
        assertTrue(metrics.contains("dense4j_model_loaded_versions{model=\"iris\"}"), metrics);
    }

    @Test
    void canarySplitLivesInTheRegistry() throws Exception {
        start(b -> b.adminToken("admin-secret"));
        f.bearer = "admin-secret";
        ok(f.put("/admin/models/iris/traffic", "{\"baseline\": 1, \"canary\": 2, \"canary_percent\": 100}"));
        assertEquals(100, f.registry.traffic(MODEL).orElseThrow().canaryPercent());
        assertEquals("2", ok(f.post("/v2/models/iris/infer", inferBody(ROWS, null))).get("model_version").asText());
        // another server sharing the registry (a replica), and this one restarted: both follow the split
        ServerConfig.Builder cfg = ServerConfig.builder(f.registry.root()).port(0).pollInterval(Duration.ofMillis(100)).accessLog(false);
        try (InferenceServer replica = InferenceServer.start(cfg.build())) {
            for (int i = 0; i < 5; i++) {
                assertEquals("2", ServerFixture.JSON.readTree(new RawHttp(replica.port()).send("POST", "/v2/models/iris/infer",
                        null, inferBody(ROWS, null)).body()).get("model_version").asText());
            }
            // cleared through the first server: the replica's poller sees it
            ok(f.delete("/admin/models/iris/traffic"));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            String v = "2";
            while (!v.equals("1") && System.nanoTime() < deadline) {
                v = ServerFixture.JSON.readTree(new RawHttp(replica.port()).send("POST", "/v2/models/iris/infer", null,
                        inferBody(ROWS, null)).body()).get("model_version").asText();
                Thread.sleep(50);
            }
            assertEquals("1", v);
        }
        ok(f.put("/admin/models/iris/traffic", "{\"baseline\": 1, \"canary\": 2, \"canary_percent\": 100}"));
        f.close();
        try (InferenceServer restarted = InferenceServer.start(cfg.build())) {
            assertEquals("2", ServerFixture.JSON.readTree(new RawHttp(restarted.port()).send("POST", "/v2/models/iris/infer",
                    null, inferBody(ROWS, null)).body()).get("model_version").asText());
        }
        List<String> actions = f.registry.history(MODEL).stream().map(io.dense4j.registry.HistoryEntry::action).toList();
        assertEquals(List.of("traffic", "untraffic", "traffic"), actions.subList(actions.size() - 3, actions.size()));
        f = null;
    }

    @Test
    void tfServingMetadataAndUnsupportedVerbs() {
        start(b -> b);
        JsonNode m = ok(f.get("/v1/models/iris/metadata"));
        assertEquals("iris", m.get("model_spec").get("name").asText());
        assertEquals("1", m.get("model_spec").get("version").asText()); // the stable alias
        JsonNode sig = m.get("metadata").get("signature_def").get("signature_def").get("serving_default");
        assertEquals("DT_FLOAT", sig.get("inputs").get("input").get("dtype").asText());
        assertEquals("4", sig.get("inputs").get("input").get("tensor_shape").get("dim").get(1).get("size").asText());
        assertEquals("3", sig.get("outputs").get("output").get("tensor_shape").get("dim").get(1).get("size").asText());
        assertEquals("2", ok(f.get("/v1/models/iris/versions/2/metadata")).get("model_spec").get("version").asText());
        assertEquals("1", ok(f.get("/v1/models/iris/labels/stable/metadata")).get("model_spec").get("version").asText());
        error(f.get("/v1/models/iris/versions/0/metadata"), 400);
        error(f.get("/v1/models/nope/metadata"), 404);
        assertTrue(error(f.post("/v1/models/iris:regress", "{\"examples\":[]}"), 501).contains("predict"));
    }

    @Test
    void errorBodiesNeverCarryStackTracesOrPaths() {
        start(b -> b.adminToken("admin-secret"));
        f.bearer = "admin-secret";
        HttpResponse<String> r = f.send(f.req("/admin/models/iris/versions").POST(HttpRequest.BodyPublishers.ofByteArray(
                "\u0008\u0000\u0000\u0000\u0000\u0000\u0000\u0000{\"a\":1}".getBytes(StandardCharsets.ISO_8859_1))).build());
        String msg = error(r, 400);
        assertFalse(msg.contains("/"), msg);
        assertFalse(json(r).toString().contains(String.valueOf(ProcessHandle.current().pid())), msg);
    }

    /**
     * HEAD is GET without the body (RFC 9110): the same role, checks and status. Javalin answered 200 to a HEAD of
     * any GET route's path without running the route: the admin API without credentials, a model that does not
     * exist "ready", for any load balancer or probe that checks with HEAD.
     */
    @Test
    void headAnswersWhatGetWouldWithoutABody() {
        start(b -> b.inferenceToken("infer-tok").adminToken("admin-tok"));
        List<String> paths = List.of("/admin/models", "/admin/models/iris", "/admin/models/nosuch", "/v2",
                "/v2/models/iris/ready", "/v2/models/nosuch/ready", "/v2/models/iris/versions/9/ready",
                "/v1/models/iris", "/v1/models/iris/versions/0", "/v2/health/ready", "/v1/jobs", "/v1/jobs/1/events");
        java.util.Arrays.asList(null, "wrong", "infer-tok", "admin-tok").forEach(bearer -> {
            f.bearer = bearer;
            for (String path : paths) {
                HttpResponse<String> get = f.get(path);
                HttpResponse<String> head = f.send(f.req(path).method("HEAD", HttpRequest.BodyPublishers.noBody()).build());
                assertEquals(get.statusCode(), head.statusCode(), "HEAD " + path + " as " + bearer + " (GET: " + get.body() + ")");
                assertEquals("", head.body(), "HEAD " + path);
            }
        });
        f.bearer = null;
        assertEquals(401, f.send(f.req("/admin/models").method("HEAD", HttpRequest.BodyPublishers.noBody()).build())
                .statusCode());
    }

    /**
     * A body means one thing: a key given twice or anything after the value is a 400, and a number beyond an int is
     * not wrapped into one. {"version": 4294967298} moved the alias to version 2, {"version": 1, "version": 2}
     * to version 2, {...} followed by anything was acted on; a metric of NaN was recorded.
     */
    @Test
    void ambiguousBodiesAreRefusedAndNumbersAreNotWrapped() throws Exception {
        start(b -> b.adminToken("admin-tok"));
        f.bearer = "admin-tok";
        for (String body : List.of("{\"version\": 4294967298}", "{\"version\": 18446744073709551618}",
                "{\"version\": 1, \"version\": 2}", "{\"version\": 2} {\"version\": 1}", "{\"version\": 2} x")) {
            ServerFixture.error(f.put("/admin/models/iris/aliases/stable", body), 400);
            assertEquals(1, f.registry.aliases(MODEL).get("stable"), body + " must leave the alias alone");
        }
        byte[] model = Files.readAllBytes(tmp.resolve("v2.d4j"));
        for (String metric : List.of("accuracy:NaN", "loss:Infinity", "accuracy:1e999", ":0.5")) {
            HttpResponse<String> r = f.send(f.req("/admin/models/iris/versions?metric=" + metric)
                    .POST(HttpRequest.BodyPublishers.ofByteArray(model)).build());
            assertTrue(ServerFixture.error(r, 400).contains("bad metric"), metric);
        }
        assertEquals(List.of(1, 2), f.registry.versionNumbers(MODEL), "nothing registered");
        f.bearer = null;
        String infer = inferBody(ROWS, null);
        ServerFixture.error(f.post("/v2/models/iris/infer", infer + " x"), 400);
        ServerFixture.error(f.post("/v2/models/iris/infer", infer.replace("{\"inputs\"", "{\"id\": \"a\", \"id\": \"b\", \"inputs\"")), 400);
        ServerFixture.error(f.post("/v1/models/iris:predict", "{\"instances\": [[1,2,3,4]], \"instances\": [[1,2,3,4],[1,2,3,4]]}"), 400);
        assertStillServing();
    }

    /**
     * A client may send any method name; each used to become a new latency histogram (about 80 series) that lived
     * as long as the server: memory and scrape size grew with every request of an unauthenticated client.
     */
    @Test
    void inventedMethodsDoNotGrowTheMetrics() throws Exception {
        start(b -> b.adminToken("admin-tok"));
        try (RawHttp raw = new RawHttp(f.server.port())) {
            for (int i = 0; i < 50; i++) {
                RawHttp.Response r = raw.send("XMETHOD" + i, "/v2/health/live", null, "");
                assertTrue(r.status() >= 400 && r.body().startsWith("{\"error\":"), r.status() + " " + r.body());
            }
        }
        String scrape = f.get("/metrics").body();
        assertFalse(scrape.contains("XMETHOD"), "a series per invented method");
        assertTrue(scrape.contains("method=\"other\""), "invented methods are counted together");
    }
}
