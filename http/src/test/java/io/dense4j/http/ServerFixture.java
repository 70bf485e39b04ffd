package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dense4j.Model;
import io.dense4j.registry.ModelRegistry;
import io.dense4j.registry.RegisterOptions;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A registry with model {@code iris} (versions 1 and 2, {@code stable} -> 1) and a server on an
 * ephemeral loopback port, plus HTTP helpers.
 */
final class ServerFixture implements AutoCloseable {
    static final String MODEL = "iris";
    static final ObjectMapper JSON = new ObjectMapper();

    final Path dir;
    final ModelRegistry registry;
    final InferenceServer server;
    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    final String base;
    String bearer;

    ServerFixture(Path dir, java.util.function.UnaryOperator<ServerConfig.Builder> tweak) {
        this.dir = dir;
        this.registry = ModelRegistry.open(dir.resolve("registry"));
        registry.register(MODEL, TestModels.writeModel(dir.resolve("v1.d4j"), 1), RegisterOptions.defaults().actor("test"));
        registry.register(MODEL, TestModels.writeModel(dir.resolve("v2.d4j"), 2), RegisterOptions.defaults().actor("test"));
        registry.setAlias(MODEL, "stable", 1, "test");
        ServerConfig.Builder b = ServerConfig.builder(registry.root()).host("127.0.0.1").port(0)
                .pollInterval(Duration.ZERO).accessLog(false);
        this.server = InferenceServer.start(tweak.apply(b).build());
        this.base = "http://127.0.0.1:" + server.port();
    }

    /** Predictions computed in-process from the registered file: what the server must answer. */
    float[][] expected(int version, float[][] rows) {
        try (Model m = Model.load(registry.modelFile(MODEL, version))) {
            return m.predict(rows);
        }
    }

    HttpRequest.Builder req(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30));
        if (bearer != null) {
            b.header("Authorization", "Bearer " + bearer);
        }
        return b;
    }

    HttpResponse<String> get(String path) {
        return send(req(path).GET().build());
    }

    HttpResponse<String> post(String path, String body) {
        return send(req(path).POST(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    HttpResponse<String> put(String path, String body) {
        return send(req(path).PUT(HttpRequest.BodyPublishers.ofString(body)).build());
    }

    HttpResponse<String> delete(String path) {
        return send(req(path).DELETE().build());
    }

    HttpResponse<String> send(HttpRequest r) {
        try {
            return http.send(r, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new RuntimeException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RuntimeException(e);
        }
    }

    HttpResponse<byte[]> sendBytes(HttpRequest r) {
        try {
            return http.send(r, HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new RuntimeException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RuntimeException(e);
        }
    }

    static JsonNode json(HttpResponse<String> r) {
        try {
            return JSON.readTree(r.body());
        } catch (IOException e) {
            throw new AssertionError("not JSON (" + r.statusCode() + "): " + r.body());
        }
    }

    static JsonNode ok(HttpResponse<String> r) {
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"), r.headers().toString());
        return json(r);
    }

    /** Asserts the status and that the body is exactly {"error": "<non-empty text>"}; returns the text. */
    static String error(HttpResponse<String> r, int status) {
        assertEquals(status, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"),
                "error content type: " + r.headers());
        JsonNode n = json(r);
        assertTrue(n.isObject(), r.body());
        Iterator<Map.Entry<String, JsonNode>> it = n.fields();
        assertTrue(it.hasNext(), r.body());
        Map.Entry<String, JsonNode> e = it.next();
        assertEquals("error", e.getKey(), r.body());
        assertTrue(e.getValue().isTextual() && !e.getValue().asText().isBlank(), r.body());
        assertFalse(it.hasNext(), "error body must have only 'error': " + r.body());
        assertFalse(r.body().contains("\tat ") || r.body().contains("Exception"), "no stack traces: " + r.body());
        return e.getValue().asText();
    }

    /** A V2 JSON infer body for rows of 4 features. */
    static String inferBody(float[][] rows, String id) {
        StringBuilder sb = new StringBuilder("{");
        if (id != null) {
            sb.append("\"id\":\"").append(id).append("\",");
        }
        sb.append("\"inputs\":[{\"name\":\"input\",\"shape\":[").append(rows.length).append(",4],\"datatype\":\"FP32\",")
                .append("\"parameters\":{},\"data\":[");
        for (int r = 0; r < rows.length; r++) {
            for (int c = 0; c < rows[r].length; c++) {
                sb.append(r + c == 0 ? "" : ",").append(rows[r][c]);
            }
        }
        return sb.append("]}]}").toString();
    }

    @Override
    public void close() {
        server.close();
    }
}
