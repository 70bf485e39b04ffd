package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

import static io.dense4j.http.ServerFixture.MODEL;
import static io.dense4j.http.ServerFixture.error;
import static io.dense4j.http.ServerFixture.inferBody;
import static io.dense4j.http.ServerFixture.json;
import static io.dense4j.http.ServerFixture.ok;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Real HTTP against a server on an ephemeral loopback port: every endpoint and error case. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class InferenceServerTest {
    private static final float[][] ROWS = {{5.1f, 3.5f, 1.4f, 0.2f}, {6.7f, 3.0f, 5.2f, 2.3f}};

    @TempDir
    Path tmp;
    private ServerFixture f;

    private ServerFixture start(UnaryOperator<ServerConfig.Builder> tweak) {
        f = new ServerFixture(tmp, tweak);
        return f;
    }

    private ServerFixture start() {
        return start(b -> b.adminToken("admin-secret"));
    }

    @AfterEach
    void stop() {
        if (f != null) {
            f.close();
        }
    }

    private static void assertOutputs(float[][] expected, JsonNode output) {
        assertEquals("output", output.get("name").asText());
        assertEquals("FP32", output.get("datatype").asText());
        assertEquals(expected.length, output.get("shape").get(0).asInt());
        assertEquals(expected[0].length, output.get("shape").get(1).asInt());
        JsonNode data = output.get("data");
        assertEquals(expected.length * expected[0].length, data.size());
        for (int i = 0; i < data.size(); i++) {
            assertEquals(expected[i / expected[0].length][i % expected[0].length], data.get(i).floatValue(), 1e-6);
        }
    }

    // ------------------------------------------------------------------ KServe V2

    @Test
    void serverMetadataAndHealth() {
        start();
        JsonNode meta = ok(f.get("/v2"));
        assertEquals("dense4j", meta.get("name").asText());
        assertNotNull(meta.get("version").asText());
        assertTrue(meta.get("extensions").toString().contains("binary_tensor_data"));
        assertTrue(meta.get("extensions").toString().contains("model_repository"));
        assertTrue(ok(f.get("/v2/health/live")).get("live").asBoolean());
        assertTrue(ok(f.get("/v2/health/ready")).get("ready").asBoolean());
    }

    @Test
    void modelMetadataAndReady() {
        start();
        JsonNode m = ok(f.get("/v2/models/iris"));
        assertEquals("iris", m.get("name").asText());
        assertEquals("[\"1\",\"2\"]", m.get("versions").toString()); // stable (1) and latest (2) are loaded
        assertEquals("dense4j", m.get("platform").asText());
        assertEquals("{\"name\":\"input\",\"datatype\":\"FP32\",\"shape\":[-1,4]}", m.get("inputs").get(0).toString());
        assertEquals("{\"name\":\"output\",\"datatype\":\"FP32\",\"shape\":[-1,3]}", m.get("outputs").get(0).toString());
        assertEquals("[\"2\"]", ok(f.get("/v2/models/iris/versions/2")).get("versions").toString());
        assertEquals("[\"1\"]", ok(f.get("/v2/models/iris/versions/stable")).get("versions").toString());
        assertTrue(ok(f.get("/v2/models/iris/ready")).get("ready").asBoolean());
        assertTrue(ok(f.get("/v2/models/iris/versions/1/ready")).get("ready").asBoolean());
        assertTrue(error(f.get("/v2/models/nope"), 404).contains("nope"));
        assertTrue(error(f.get("/v2/models/nope/ready"), 404).contains("nope"));
        assertTrue(error(f.get("/v2/models/iris/versions/9"), 404).contains("version 9"));
        assertTrue(error(f.get("/v2/models/iris/versions/9/ready"), 404).contains("version 9"));
        error(f.get("/v2/models/iris/versions/beta"), 404);
    }

    @Test
    void jsonInferMatchesInProcessPredict() {
        start();
        JsonNode r = ok(f.post("/v2/models/iris/infer", inferBody(ROWS, "req-42")));
        assertEquals("iris", r.get("model_name").asText());
        assertEquals("1", r.get("model_version").asText()); // the stable alias
        assertEquals("req-42", r.get("id").asText());
        assertOutputs(f.expected(1, ROWS), r.get("outputs").get(0));
        // version in the path, alias in the path
        JsonNode v2 = ok(f.post("/v2/models/iris/versions/2/infer", inferBody(ROWS, null)));
        assertEquals("2", v2.get("model_version").asText());
        assertFalse(v2.has("id"));
        assertOutputs(f.expected(2, ROWS), v2.get("outputs").get(0));
        assertEquals("1", ok(f.post("/v2/models/iris/versions/stable/infer", inferBody(ROWS, null))).get("model_version").asText());
        // nested data, FP64 and INT32 datatypes, explicit outputs, no Content-Type
        String nested = "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP64\",\"data\":[[5.1,3.5,1.4,0.2]]}],"
                + "\"outputs\":[{\"name\":\"output\",\"parameters\":{}}]}";
        assertOutputs(f.expected(1, new float[][] {ROWS[0]}), ok(f.post("/v2/models/iris/infer", nested)).get("outputs").get(0));
        String ints = "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"INT32\",\"data\":[5,3,1,0]}]}";
        assertOutputs(f.expected(1, new float[][] {{5, 3, 1, 0}}), ok(f.post("/v2/models/iris/infer", ints)).get("outputs").get(0));
    }

    /** Builds a binary-extension request: JSON header then raw FP32 little-endian rows. */
    private HttpRequest binaryRequest(String path, float[][] rows, boolean binaryOut) {
        String header = "{\"inputs\":[{\"name\":\"input\",\"shape\":[" + rows.length + ",4],\"datatype\":\"FP32\","
                + "\"parameters\":{\"binary_data_size\":" + rows.length * 16 + "}}],"
                + "\"outputs\":[{\"name\":\"output\",\"parameters\":{\"binary_data\":" + binaryOut + "}}]}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer body = ByteBuffer.allocate(h.length + rows.length * 16).order(ByteOrder.LITTLE_ENDIAN);
        body.put(h);
        for (float[] row : rows) {
            for (float v : row) {
                body.putFloat(v);
            }
        }
        return f.req(path).header("Inference-Header-Content-Length", Integer.toString(h.length))
                .header("Content-Type", "application/octet-stream")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body.array())).build();
    }

    @Test
    void binaryInferBothWays() throws Exception {
        start();
        HttpResponse<byte[]> r = f.sendBytes(binaryRequest("/v2/models/iris/infer", ROWS, true));
        assertEquals(200, r.statusCode(), new String(r.body(), StandardCharsets.UTF_8));
        int jsonLen = Integer.parseInt(r.headers().firstValue("Inference-Header-Content-Length").orElseThrow());
        JsonNode header = ServerFixture.JSON.readTree(new String(r.body(), 0, jsonLen, StandardCharsets.UTF_8));
        JsonNode out = header.get("outputs").get(0);
        assertEquals(24, out.get("parameters").get("binary_data_size").asInt());
        assertFalse(out.has("data"));
        assertEquals(jsonLen + 24, r.body().length);
        ByteBuffer data = ByteBuffer.wrap(r.body(), jsonLen, 24).order(ByteOrder.LITTLE_ENDIAN);
        float[][] expected = f.expected(1, ROWS);
        for (float[] row : expected) {
            for (float v : row) {
                assertEquals(v, data.getFloat(), 1e-6);
            }
        }
        // binary in, JSON out
        HttpResponse<byte[]> j = f.sendBytes(binaryRequest("/v2/models/iris/versions/2/infer", ROWS, false));
        assertEquals(200, j.statusCode());
        assertFalse(j.headers().firstValue("Inference-Header-Content-Length").isPresent());
        assertOutputs(f.expected(2, ROWS), ServerFixture.JSON.readTree(j.body()).get("outputs").get(0));
        // request-level binary_data_output with a JSON input
        String body = "{\"parameters\":{\"binary_data_output\":true},\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],"
                + "\"datatype\":\"FP32\",\"data\":[1,2,3,4]}]}";
        HttpResponse<byte[]> b = f.sendBytes(f.req("/v2/models/iris/infer").POST(HttpRequest.BodyPublishers.ofString(body)).build());
        assertEquals(200, b.statusCode());
        assertTrue(b.headers().firstValue("Inference-Header-Content-Length").isPresent());
        String notBoolean = body.replace("\"binary_data_output\":true", "\"binary_data_output\":\"yes\"");
        assertTrue(error(f.post("/v2/models/iris/infer", notBoolean), 400).contains("binary_data_output"));
    }

    /**
     * Triton's classification extension: the top k of each row as "value:index:label" BYTES, highest first, JSON or
     * binary (each string its 4-byte little-endian length and its bytes). Checked against the model's probabilities
     * computed in-process and ranked here.
     */
    @Test
    void classificationExtension() throws Exception {
        start();
        assertTrue(ok(f.get("/v2")).get("extensions").toString().contains("\"classification\""));
        float[][] probabilities = f.expected(1, ROWS);
        List<String> labels = List.of("setosa", "versicolor", "virginica");
        String request = inferBody(ROWS, "c1").replaceFirst("}$",
                ",\"outputs\":[{\"name\":\"output\",\"parameters\":{\"classification\":2}}]}");
        JsonNode out = ok(f.post("/v2/models/iris/infer", request)).get("outputs").get(0);
        assertEquals("BYTES", out.get("datatype").asText());
        assertEquals("[2,2]", out.get("shape").toString());
        for (int r = 0; r < ROWS.length; r++) {
            int best = 0;
            for (int i = 1; i < 3; i++) {
                best = probabilities[r][i] > probabilities[r][best] ? i : best;
            }
            for (int j = 0; j < 2; j++) {
                String[] parts = out.get("data").get(r * 2 + j).asText().split(":");
                int index = Integer.parseInt(parts[1]);
                assertEquals(probabilities[r][index], Float.parseFloat(parts[0]), 1e-6, out.toString());
                assertEquals(labels.get(index), parts[2]);
                if (j == 0) {
                    assertEquals(best, index, "the highest first: " + out);
                } else {
                    assertTrue(probabilities[r][index] <= probabilities[r][best] && index != best, out.toString());
                }
            }
        }
        // binary: the same strings, length-prefixed
        String binary = request.replace("\"classification\":2", "\"classification\":2,\"binary_data\":true");
        HttpResponse<byte[]> b = f.sendBytes(f.req("/v2/models/iris/infer").POST(HttpRequest.BodyPublishers.ofString(binary)).build());
        assertEquals(200, b.statusCode(), new String(b.body(), StandardCharsets.UTF_8));
        int jsonLen = Integer.parseInt(b.headers().firstValue("Inference-Header-Content-Length").orElseThrow());
        JsonNode head = ServerFixture.JSON.readTree(new String(b.body(), 0, jsonLen, StandardCharsets.UTF_8)).get("outputs").get(0);
        assertEquals(b.body().length - jsonLen, head.at("/parameters/binary_data_size").asInt());
        ByteBuffer data = ByteBuffer.wrap(b.body(), jsonLen, b.body().length - jsonLen).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 4; i++) {
            byte[] text = new byte[data.getInt()];
            data.get(text);
            assertEquals(out.get("data").get(i).asText(), new String(text, StandardCharsets.UTF_8));
        }
        assertFalse(data.hasRemaining());
        // a count the model cannot give, or that is no count, is refused by name
        assertTrue(error(f.post("/v2/models/iris/infer", request.replace("\"classification\":2", "\"classification\":4")),
                400).contains("has 3 outputs"));
        for (String bad : List.of("0", "-1", "\"2\"", "1.5", "true")) {
            assertTrue(error(f.post("/v2/models/iris/infer", request.replace("\"classification\":2", "\"classification\":" + bad)),
                    400).contains("classification"), bad);
        }
    }

    @Test
    void inferValidationErrors() {
        start();
        String p = "/v2/models/iris/infer";
        assertTrue(error(f.post(p, "{\"inputs\": [ {"), 400).startsWith("malformed JSON"));
        assertTrue(error(f.post(p, ""), 400).contains("empty"));
        assertTrue(error(f.post(p, "[1,2]"), 400).contains("JSON object"));
        assertTrue(error(f.post(p, "{}"), 400).contains("inputs"));
        String wrongShape = "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,5],\"datatype\":\"FP32\",\"data\":[1,2,3,4,5]}]}";
        assertTrue(error(f.post(p, wrongShape), 400).contains("[-1, 4]"));
        String count = "{\"inputs\":[{\"name\":\"input\",\"shape\":[2,4],\"datatype\":\"FP32\",\"data\":[1,2,3,4,5]}]}";
        assertTrue(error(f.post(p, count), 400).contains("5 values"));
        String bytes = "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"BYTES\",\"data\":[\"a\",\"b\",\"c\",\"d\"]}]}";
        assertTrue(error(f.post(p, bytes), 400).contains("BYTES"));
        String unknownType = "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP8\",\"data\":[1,2,3,4]}]}";
        assertTrue(error(f.post(p, unknownType), 400).contains("FP8"));
        String nan = "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP32\",\"data\":[1,NaN,3,4]}]}";
        String msg = error(f.post(p, nan), 400);
        assertTrue(msg.contains("NaN") && msg.contains("column 1"), msg);
        String inf = "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP64\",\"data\":[1,2,3,1e300]}]}";
        assertTrue(error(f.post(p, inf), 400).contains("infinite"));
        String name = "{\"inputs\":[{\"name\":\"pixels\",\"shape\":[1,4],\"datatype\":\"FP32\",\"data\":[1,2,3,4]}]}";
        assertTrue(error(f.post(p, name), 400).contains("pixels"));
        String str = "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP32\",\"data\":[1,\"x\",3,4]}]}";
        assertTrue(error(f.post(p, str), 400).contains("string"));
        String out = "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP32\",\"data\":[1,2,3,4]}],\"outputs\":[{\"name\":\"probs\"}]}";
        assertTrue(error(f.post(p, out), 400).contains("probs"));
        String two = "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP32\",\"data\":[1,2,3,4]},"
                + "{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP32\",\"data\":[1,2,3,4]}]}";
        assertTrue(error(f.post(p, two), 400).contains("1 input"));
        // binary: NaN inside the raw tensor, and a size that does not match the shape
        HttpResponse<byte[]> bnan = f.sendBytes(binaryRequest(p, new float[][] {{1, Float.NaN, 3, 4}}, false));
        assertEquals(400, bnan.statusCode());
        assertTrue(new String(bnan.body(), StandardCharsets.UTF_8).contains("NaN"));
        String header = "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":12}}]}";
        HttpRequest bad = f.req(p).header("Inference-Header-Content-Length", Integer.toString(header.length()))
                .POST(HttpRequest.BodyPublishers.ofString(header + "123456789012")).build();
        assertTrue(error(f.send(bad), 400).contains("binary_data_size"));
        HttpRequest badLen = f.req(p).header("Inference-Header-Content-Length", "999999")
                .POST(HttpRequest.BodyPublishers.ofString("{}")).build();
        assertTrue(error(f.send(badLen), 400).contains("Inference-Header-Content-Length"));
        // a JSON part of length 0 is not "an empty body"; a byte count written as a string is not a size mismatch
        HttpRequest zeroLen = f.req(p).header("Inference-Header-Content-Length", "0")
                .POST(HttpRequest.BodyPublishers.ofString(header + "1234567890123456")).build();
        String zero = error(f.send(zeroLen), 400);
        assertTrue(zero.contains("Inference-Header-Content-Length is 0") && !zero.contains("body is empty"), zero);
        String quoted = header.replace("\"binary_data_size\":12", "\"binary_data_size\":\"16\"");
        HttpRequest quotedSize = f.req(p).header("Inference-Header-Content-Length", Integer.toString(quoted.length()))
                .POST(HttpRequest.BodyPublishers.ofString(quoted + "1234567890123456")).build();
        String q = error(f.send(quotedSize), 400);
        assertTrue(q.contains("whole number of bytes") && q.contains("(a string)") && q.contains("16 for shape"), q);
        // unknown model / version on infer
        error(f.post("/v2/models/nope/infer", inferBody(ROWS, null)), 404);
        error(f.post("/v2/models/iris/versions/7/infer", inferBody(ROWS, null)), 404);
    }

    @Test
    void unknownEndpointsAreJson404AndUnknownMethodsJson405() {
        start();
        assertTrue(error(f.get("/nope"), 404).contains("/nope"));
        // a path the server has, under a method it does not: 405 with the path's methods (RFC 9110 15.5.6)
        HttpResponse<String> get = f.get("/v2/models/iris/infer");
        error(get, 405);
        assertEquals("POST, OPTIONS", get.headers().firstValue("Allow").orElse(null));
        error(f.delete("/v2"), 405);
    }

    @Test
    void requestsJettyCannotParseAreJsonToo() throws Exception {
        start();
        try (java.net.Socket sock = new java.net.Socket("127.0.0.1", f.server.port())) {
            sock.setSoTimeout(10_000);
            sock.getOutputStream().write(("POST /v2/models/iris/infer HTTP/1.1\r\nHost: localhost\r\n"
                    + "Content-Length: abc\r\n\r\n{}").getBytes(StandardCharsets.US_ASCII));
            String raw = new String(sock.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(raw.startsWith("HTTP/1.1 400"), raw);
            assertTrue(raw.contains("application/json"), raw);
            assertTrue(raw.contains("{\"error\":\"bad request"), raw);
        }
    }

    @Test
    void requestSizeLimitIsJson413() {
        start(b -> b.maxRequestBytes(1000).adminToken("admin-secret"));
        float[][] big = new float[100][4];
        assertTrue(error(f.post("/v2/models/iris/infer", inferBody(big, null)), 413).contains("1000"));
        // without Content-Length (chunked), the limit still holds
        HttpRequest chunked = f.req("/v2/models/iris/infer").POST(HttpRequest.BodyPublishers.ofInputStream(
                () -> new java.io.ByteArrayInputStream(inferBody(big, null).getBytes(StandardCharsets.UTF_8)))).build();
        error(f.send(chunked), 413);
        ok(f.post("/v2/models/iris/infer", inferBody(ROWS, null)));
    }

    /** Broken chunked framing is named as such (it read as "the client stopped sending, or sent it too slowly"). */
    @Test
    void malformedChunkedBodiesAreNamed() throws Exception {
        start();
        for (String chunks : List.of("FFFFFFFFFFFFFFFFFFFF\r\nabc\r\n0\r\n\r\n", "zz\r\nabc\r\n0\r\n\r\n",
                "3\r\nabcXY0\r\n\r\n")) {
            try (RawHttp raw = new RawHttp(f.server.port())) {
                raw.write("POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks);
                RawHttp.Response r = raw.read();
                assertEquals(400, r.status(), chunks);
                assertTrue(r.body().contains("chunked framing is malformed"), chunks + ": " + r.body());
            }
        }
        ok(f.post("/v2/models/iris/infer", inferBody(ROWS, null)));
    }

    // ------------------------------------------------------------------ auth

    @Test
    void bearerTokens() {
        // one token for two roles is refused at start (every inference client would be an admin)
        IllegalArgumentException same = assertThrows(IllegalArgumentException.class, () -> ServerConfig.builder(tmp)
                .inferenceToken("shared-secret").adminToken("shared-secret").build());
        assertTrue(same.getMessage().contains("give each role its own"), same.getMessage());
        start(b -> b.inferenceToken("infer-secret").adminToken("admin-secret"));
        assertTrue(error(f.post("/v2/models/iris/infer", inferBody(ROWS, null)), 401).contains("bearer"));
        error(f.get("/v2"), 401);
        ok(f.get("/v2/health/live")); // probes need no token
        ok(f.get("/openapi.json"));
        // the scrape names the models held: it asks for the token that lists them
        assertFalse(f.get("/metrics").body().contains("iris"));
        error(f.get("/metrics"), 401);
        f.bearer = "wrong";
        error(f.get("/metrics"), 403);
        error(f.post("/v2/models/iris/infer", inferBody(ROWS, null)), 403);
        f.bearer = "infer-secret";
        ok(f.post("/v2/models/iris/infer", inferBody(ROWS, null)));
        HttpResponse<String> scrape = f.get("/metrics");
        assertEquals(200, scrape.statusCode());
        assertTrue(scrape.body().contains("dense4j_model_loaded_versions{model=\"iris\"}"), scrape.body());
        error(f.get("/admin/models"), 403); // the inference token is not an admin token
        error(f.post("/v2/repository/models/iris/unload", ""), 403);
        f.bearer = null;
        HttpResponse<String> r = f.get("/admin/models");
        error(r, 401);
        assertEquals("Bearer", r.headers().firstValue("WWW-Authenticate").orElse(""));
        f.bearer = "admin-secret";
        ok(f.get("/admin/models"));
        ok(f.post("/v2/models/iris/infer", inferBody(ROWS, null))); // admin may infer too
        assertEquals(200, f.get("/metrics").statusCode()); // and scrape
    }

    @Test
    void managementIsOffWithoutAdminToken() {
        start(b -> b);
        f.bearer = "anything";
        assertTrue(error(f.get("/admin/models"), 403).contains("disabled"));
        error(f.post("/v2/repository/models/iris/load", ""), 403);
        f.bearer = null;
        ok(f.post("/v2/models/iris/infer", inferBody(ROWS, null))); // no inference token: open
    }

    // ------------------------------------------------------------------ TF Serving

    @Test
    void tfServingStatusAndPredict() {
        start();
        JsonNode st = ok(f.get("/v1/models/iris"));
        assertEquals(2, st.get("model_version_status").size());
        assertEquals("AVAILABLE", st.get("model_version_status").get(0).get("state").asText());
        assertEquals("OK", st.get("model_version_status").get(0).get("status").get("error_code").asText());
        assertEquals("2", ok(f.get("/v1/models/iris/versions/2")).get("model_version_status").get(0).get("version").asText());
        assertEquals("1", ok(f.get("/v1/models/iris/labels/stable")).get("model_version_status").get(0).get("version").asText());
        error(f.get("/v1/models/iris/labels/nope"), 404);
        error(f.get("/v1/models/nope"), 404);

        float[][] e1 = f.expected(1, ROWS);
        String instances = "{\"instances\":[[5.1,3.5,1.4,0.2],{\"input\":[6.7,3.0,5.2,2.3]}]}";
        JsonNode p = ok(f.post("/v1/models/iris:predict", instances));
        assertEquals(2, p.get("predictions").size());
        for (int r = 0; r < 2; r++) {
            for (int c = 0; c < 3; c++) {
                assertEquals(e1[r][c], p.get("predictions").get(r).get(c).floatValue(), 1e-6);
            }
        }
        JsonNode cols = ok(f.post("/v1/models/iris/versions/2:predict", "{\"inputs\":{\"input\":[[5.1,3.5,1.4,0.2]]}}"));
        assertEquals(f.expected(2, new float[][] {ROWS[0]})[0][0], cols.get("outputs").get(0).get(0).floatValue(), 1e-6);
        ok(f.post("/v1/models/iris/labels/stable:predict", "{\"instances\":[[1,2,3,4]]}"));
        ok(f.post("/v1/models/iris:predict", "{\"signature_name\":\"serving_default\",\"instances\":[[1,2,3,4]]}"));
        ok(f.post("/v1/models/iris:predict", "{\"signature_name\":\"\",\"instances\":[[1,2,3,4]]}"));
        assertTrue(error(f.post("/v1/models/iris:predict", "{\"signature_name\":\"classify_x\",\"instances\":[[1,2,3,4]]}"),
                400).contains("\"classify_x\" not found"));
        error(f.post("/v1/models/iris/labels/nope:predict", "{\"instances\":[[1,2,3,4]]}"), 404);
        error(f.post("/v1/models/iris:classify", "{\"instances\":[[1,2,3,4]]}"), 501);
        error(f.post("/v1/models/iris", "{\"instances\":[[1,2,3,4]]}"), 404);
        String narrow = error(f.post("/v1/models/iris:predict", "{\"instances\":[[1,2,3]]}"), 400);
        assertTrue(narrow.contains("instance 0 has 3 values; the model takes rows of 4") && !narrow.contains("'data'"), narrow);
        assertTrue(error(f.post("/v1/models/iris:predict", "{\"instances\":[[1,2,3,NaN]]}"), 400).contains("NaN"));
        error(f.post("/v1/models/iris:predict", "{\"rows\":[]}"), 400);
        error(f.post("/v1/models/iris:predict", "{bad"), 400);
    }

    // ------------------------------------------------------------------ management

    @Test
    void managementLifecycle() throws Exception {
        start();
        f.bearer = "admin-secret";
        // upload a new version and point canary at it
        byte[] file = Files.readAllBytes(TestModels.writeModel(tmp.resolve("v3.d4j"), 3));
        HttpResponse<String> up = f.send(f.req("/admin/models/iris/versions?alias=canary&source=ci&metric=accuracy:0.9")
                .header("X-Actor", "alice").POST(HttpRequest.BodyPublishers.ofByteArray(file)).build());
        assertEquals(201, up.statusCode(), up.body());
        JsonNode v3 = json(up);
        assertEquals(3, v3.get("version").asInt());
        assertEquals("alice", v3.get("actor").asText());
        assertEquals(0.9, v3.get("metrics").get("accuracy").asDouble());
        assertEquals(64, v3.get("sha256").asText().length());
        assertEquals("3", ok(f.post("/v2/models/iris/versions/canary/infer", inferBody(ROWS, null))).get("model_version").asText());
        // a corrupt upload is refused, nothing registered
        assertTrue(error(f.send(f.req("/admin/models/iris/versions").POST(HttpRequest.BodyPublishers.ofString("garbage")).build()), 400)
                .contains("not a valid model"));

        JsonNode d = ok(f.get("/admin/models/iris"));
        assertEquals(3, d.get("versions").size());
        assertEquals(3, d.get("aliases").get("canary").asInt());
        assertEquals(1, ok(f.get("/admin/models")).get("models").size());

        // promote, then roll back
        JsonNode moved = ok(f.put("/admin/models/iris/aliases/stable", "{\"version\": 3}"));
        assertEquals(1, moved.get("previous").asInt());
        assertEquals("3", ok(f.post("/v2/models/iris/infer", inferBody(ROWS, null))).get("model_version").asText());
        assertEquals(1, ok(f.post("/admin/models/iris/aliases/stable/rollback", "")).get("version").asInt());
        assertEquals("1", ok(f.post("/v2/models/iris/infer", inferBody(ROWS, null))).get("model_version").asText());
        error(f.post("/admin/models/iris/aliases/canary/rollback", ""), 409);
        error(f.put("/admin/models/iris/aliases/stable", "{\"version\": 99}"), 404);
        error(f.put("/admin/models/iris/aliases/stable", "{\"v\": 1}"), 400);
        // a field the route does not take is named, and nothing moves
        assertTrue(error(f.put("/admin/models/iris/aliases/stable", "{\"version\": 1, \"note\": \"x\"}"), 400)
                .contains("'note'"));
        assertEquals(1, ok(f.get("/admin/models/iris")).at("/aliases/stable").asInt());
        assertTrue(error(f.put("/admin/models/iris/traffic",
                "{\"baseline\": 1, \"canary\": 3, \"canary_percent\": 10, \"sticky\": true}"), 400).contains("'sticky'"));
        error(f.put("/admin/models/iris/aliases/7up", "{\"version\": 1}"), 400);

        // canary split: 100% and 0% are deterministic
        ok(f.put("/admin/models/iris/traffic", "{\"baseline\": 1, \"canary\": 2, \"canary_percent\": 100}"));
        for (int i = 0; i < 5; i++) {
            assertEquals("2", ok(f.post("/v2/models/iris/infer", inferBody(ROWS, null))).get("model_version").asText());
        }
        ok(f.put("/admin/models/iris/traffic", "{\"baseline\": 1, \"canary\": 2, \"canary_percent\": 50}"));
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < 60 && seen.size() < 2; i++) {
            seen.add(ok(f.post("/v2/models/iris/infer", inferBody(ROWS, null))).get("model_version").asText());
        }
        assertEquals(Set.of("1", "2"), seen);
        error(f.delete("/admin/models/iris/versions/2"), 409); // used by the split
        error(f.put("/admin/models/iris/traffic", "{\"baseline\": 1, \"canary\": 2, \"canary_percent\": 101}"), 400);
        ok(f.delete("/admin/models/iris/traffic"));
        assertEquals("1", ok(f.post("/v2/models/iris/infer", inferBody(ROWS, null))).get("model_version").asText());

        // delete: refused while aliased, allowed after
        assertTrue(error(f.delete("/admin/models/iris/versions/3"), 409).contains("canary"));
        ok(f.delete("/admin/models/iris/aliases/canary"));
        ok(f.delete("/admin/models/iris/versions/3"));
        error(f.post("/v2/models/iris/versions/3/infer", inferBody(ROWS, null)), 404);
        error(f.delete("/admin/models/iris/versions/3"), 404);

        // history names every change with its actor
        JsonNode h = ok(f.get("/admin/models/iris/history")).get("history");
        List<String> actions = new ArrayList<>();
        h.forEach(e -> actions.add(e.get("action").asText()));
        // the canary split is in the history too: set twice, then cleared
        assertEquals(List.of("register", "register", "alias", "register", "alias", "alias", "rollback", "traffic", "traffic",
                "untraffic", "unalias", "delete"), actions);
        assertEquals("alice", h.get(3).get("actor").asText());
        assertEquals("admin-api", h.get(5).get("actor").asText());
        assertTrue(ok(f.get("/admin/models/iris/verify")).get("ok").asBoolean());
        error(f.get("/admin/models/nope"), 404);
    }

    @Test
    void repositoryIndexLoadUnload() {
        start();
        JsonNode idx = ok(f.post("/v2/repository/index", ""));
        assertEquals(2, idx.size());
        assertEquals("{\"name\":\"iris\",\"version\":\"1\",\"state\":\"READY\",\"reason\":\"\"}", idx.get(0).toString());
        f.bearer = "admin-secret";
        ok(f.post("/v2/repository/models/iris/unload", ""));
        assertTrue(error(f.post("/v2/models/iris/infer", inferBody(ROWS, null)), 503).contains("unloaded"));
        error(f.get("/v2/models/iris/ready"), 503);
        ok(f.get("/v2/health/ready")); // an explicitly unloaded model does not make the server unready
        assertEquals(0, ok(f.post("/v2/repository/index", "{\"ready\": true}")).size());
        assertEquals("UNAVAILABLE", ok(f.post("/v2/repository/index", "{}")).get(0).get("state").asText());
        // what a Triton client may send with a load is refused by name, never ignored; the model stays unloaded
        assertTrue(error(f.post("/v2/repository/models/iris/load", "{\"parameters\": {\"config\": \"{}\"}}"), 400)
                .contains("model configuration"));
        assertTrue(error(f.post("/v2/repository/models/iris/load", "{\"parameters\": {\"file:1/model.d4j\": \"AAAA\"}}"),
                400).contains("POST /admin/models/{model}/versions"));
        assertTrue(error(f.post("/v2/repository/models/iris/load", "{\"params\": {}}"), 400).contains("'params'"));
        assertTrue(error(f.post("/v2/repository/models/iris/load", "{\"parameters\": []}"), 400).contains("'parameters'"));
        error(f.post("/v2/models/iris/infer", inferBody(ROWS, null)), 503);
        assertTrue(error(f.post("/v2/repository/index", "{\"ready\": \"yes\"}"), 400).contains("true or false"));
        assertTrue(error(f.post("/v2/repository/index", "{\"redy\": true}"), 400).contains("'redy'"));
        // a message quoting a huge value sends back at most its first 1000 characters (10 MB came back before)
        String huge = error(f.post("/v2/repository/index", "{\"ready\": [" + "1,".repeat(100_000) + "1]}"), 400);
        assertTrue(huge.length() < 1100 && huge.endsWith("characters)"), huge.length() + ": " + huge.substring(0, 80));
        ok(f.post("/v2/repository/models/iris/load", "{}")); // what tritonclient's load_model sends
        ok(f.post("/v2/models/iris/infer", inferBody(ROWS, null)));
        assertTrue(error(f.post("/v2/repository/models/iris/unload", "{\"parameters\": {\"unload_dependents\": 1}}"), 400)
                .contains("true or false"));
        assertTrue(error(f.post("/v2/repository/models/iris/unload", "{\"parameters\": {\"force\": true}}"), 400)
                .contains("'force'"));
        ok(f.post("/v2/models/iris/infer", inferBody(ROWS, null))); // still loaded after the refusals
        ok(f.post("/v2/repository/models/iris/unload", "{\"parameters\": {\"unload_dependents\": true}}"));
        error(f.post("/v2/models/iris/infer", inferBody(ROWS, null)), 503);
        ok(f.post("/v2/repository/models/iris/load", ""));
        ok(f.post("/v2/models/iris/infer", inferBody(ROWS, null)));
        error(f.post("/v2/repository/models/nope/load", ""), 404);
        ok(f.post("/admin/models/iris/unload", ""));
        ok(f.post("/admin/models/iris/load", ""));
        assertTrue(ok(f.get("/v2/health/ready")).get("ready").asBoolean());
    }

    @Test
    void changesByAnotherProcessArePickedUpByThePoller() throws Exception {
        start(b -> b.pollInterval(Duration.ofMillis(100)));
        // another process (the CLI) registers a version and moves the alias in the shared registry
        int v3 = f.registry.register(MODEL, TestModels.writeModel(tmp.resolve("v3.d4j"), 3),
                io.dense4j.registry.RegisterOptions.defaults()).version();
        f.registry.setAlias(MODEL, "stable", v3, "cli");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        String v = "";
        while (System.nanoTime() < deadline && !v.equals("3")) {
            v = ok(f.post("/v2/models/iris/infer", inferBody(ROWS, null))).get("model_version").asText();
            Thread.sleep(50);
        }
        assertEquals("3", v);
    }

    // ------------------------------------------------------------------ operations

    @Test
    void metricsAndOpenApi() {
        start();
        ok(f.post("/v2/models/iris/infer", inferBody(ROWS, null)));
        error(f.post("/v2/models/iris/infer", "{"), 400);
        HttpResponse<String> m = f.get("/metrics");
        assertEquals(200, m.statusCode());
        String text = m.body();
        assertTrue(text.contains("dense4j_http_requests_seconds_bucket"), text);
        assertTrue(text.contains("route=\"/v2/models/{model}/infer\""), text);
        assertTrue(text.contains("dense4j_http_errors_total"), text);
        assertTrue(text.contains("dense4j_batch_size"), text);
        assertTrue(text.contains("dense4j_batch_queue_depth"), text);
        assertTrue(text.contains("dense4j_model_loaded_versions{model=\"iris\"} 2"), text);
        JsonNode api = ok(f.get("/openapi.json"));
        assertTrue(api.get("openapi").asText().startsWith("3."));
        for (String path : List.of("/v2/models/{model}/infer", "/v2/repository/index", "/v1/models/{modelverb}",
                "/admin/models/{model}/aliases/{alias}/rollback", "/admin/models/{model}/traffic", "/metrics")) {
            assertTrue(api.get("paths").has(path), path);
        }
    }

    @Test
    void gracefulShutdownLetsRequestsInFlightFinish() throws Exception {
        // a long queue delay keeps requests waiting inside the server while it is asked to stop
        start(b -> b.batching(new ServerConfig.BatchingConfig(true, 64, Duration.ofMillis(500), 16, 1, Duration.ofSeconds(10))));
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<HttpResponse<String>>> inFlight = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                inFlight.add(pool.submit(() -> f.post("/v2/models/iris/infer", inferBody(ROWS, null))));
            }
            Thread.sleep(200);
            f.close();
            for (Future<HttpResponse<String>> r : inFlight) {
                assertEquals(200, r.get(20, TimeUnit.SECONDS).statusCode());
            }
        } finally {
            pool.shutdownNow();
        }
        f = null;
    }

    @Test
    void batchingOffStillServes() {
        start(b -> b.batching(ServerConfig.BatchingConfig.disabled()));
        assertOutputs(f.expected(1, ROWS), ok(f.post("/v2/models/iris/infer", inferBody(ROWS, null))).get("outputs").get(0));
    }
}
