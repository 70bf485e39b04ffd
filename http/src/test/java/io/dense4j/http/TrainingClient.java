package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The training API of a server at {@code base}, for tests: requests, uploads, jobs, event streams. */
public class TrainingClient {
    static final ObjectMapper JSON = new ObjectMapper();

    public String base;
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    public TrainingClient(String base) {
        this.base = base;
    }

    /** Trust exactly {@code ssl}'s certificates for an https:// server (a self-signed one in tests). */
    public TrainingClient trust(javax.net.ssl.SSLContext ssl) {
        http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5))
                .sslContext(ssl).build();
        return this;
    }

    public HttpRequest.Builder req(String path, String token) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return b;
    }

    public HttpResponse<String> send(HttpRequest r) {
        try {
            return http.send(r, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new RuntimeException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RuntimeException(e);
        }
    }

    public HttpResponse<String> get(String path, String token) {
        return send(req(path, token).GET().build());
    }

    public HttpResponse<String> delete(String path, String token) {
        return send(req(path, token).DELETE().build());
    }

    public HttpResponse<String> post(String path, String token, String contentType, String body) {
        return send(req(path, token).header("Content-Type", contentType).POST(HttpRequest.BodyPublishers.ofString(body))
                .build());
    }

    /** Uploads files as one multipart body (one file part each). */
    public HttpResponse<String> uploadFiles(String query, String token, List<Path> files) throws IOException {
        String boundary = "b-" + UUID.randomUUID();
        List<HttpRequest.BodyPublisher> parts = new ArrayList<>();
        for (Path f : files) {
            parts.add(HttpRequest.BodyPublishers.ofString("--" + boundary + "\r\nContent-Disposition: form-data; "
                    + "name=\"file\"; filename=\"" + f.getFileName() + "\"\r\nContent-Type: application/octet-stream\r\n\r\n"));
            parts.add(HttpRequest.BodyPublishers.ofFile(f));
            parts.add(HttpRequest.BodyPublishers.ofString("\r\n"));
        }
        parts.add(HttpRequest.BodyPublishers.ofString("--" + boundary + "--\r\n"));
        return send(req("/v1/datasets" + query, token).header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.concat(parts.toArray(HttpRequest.BodyPublisher[]::new))).build());
    }

    /** Uploads every file of an IDX directory; returns the data set's record. */
    public JsonNode uploadIdx(Path dir, String name, String token) throws IOException {
        List<Path> files;
        try (var s = Files.list(dir)) {
            files = s.sorted().toList();
        }
        HttpResponse<String> r = uploadFiles("?name=" + name, token, files);
        assertTrue(r.statusCode() == 201 || r.statusCode() == 200, r.body());
        return json(r);
    }

    public JsonNode uploadCsv(Path file, String query, String token) throws IOException {
        HttpResponse<String> r = send(req("/v1/datasets" + query, token).header("Content-Type", "text/csv")
                .POST(HttpRequest.BodyPublishers.ofFile(file)).build());
        assertTrue(r.statusCode() == 201 || r.statusCode() == 200, r.body());
        return json(r);
    }

    /** Submits a job spec; returns its id. */
    public long submit(String spec, String token) {
        HttpResponse<String> r = post("/v1/jobs", token, "application/json", spec);
        assertEquals(201, r.statusCode(), r.body());
        return json(r).get("id").asLong();
    }

    public JsonNode job(long id, String token) {
        HttpResponse<String> r = get("/v1/jobs/" + id, token);
        assertEquals(200, r.statusCode(), r.body());
        return json(r);
    }

    /** Polls until the job is running (it may pass through, but not end in, another state). */
    public JsonNode awaitRunning(long id, String token, int seconds) throws InterruptedException {
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        JsonNode j = job(id, token);
        while (!j.get("state").asText().equals("running")) {
            if (System.nanoTime() > end || List.of("succeeded", "failed", "cancelled").contains(j.get("state").asText())) {
                throw new AssertionError("job " + id + " is " + j.get("state").asText() + ", not running");
            }
            Thread.sleep(20);
            j = job(id, token);
        }
        return j;
    }

    /** Polls until the job is in a final state (or the time runs out); returns its view. */
    public JsonNode awaitEnd(long id, String token, int seconds) throws InterruptedException {
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        JsonNode j = job(id, token);
        while (!List.of("succeeded", "failed", "cancelled").contains(j.get("state").asText())) {
            if (System.nanoTime() > end) {
                throw new AssertionError("job " + id + " is still " + j.get("state").asText() + " after " + seconds + " s");
            }
            Thread.sleep(50);
            j = job(id, token);
        }
        return j;
    }

    /** One Server-Sent Event. */
    public record Event(Long id, String event, JsonNode data) {}

    /** Reads a job's event stream until its {@code end} event (or EOF); {@code lastEventId} null for all. */
    public List<Event> events(long id, String token, Long lastEventId) throws IOException, InterruptedException {
        HttpRequest.Builder b = req("/v1/jobs/" + id + "/events", token).header("Accept", "text/event-stream")
                .timeout(Duration.ofSeconds(240));
        if (lastEventId != null) {
            b.header("Last-Event-ID", Long.toString(lastEventId));
        }
        HttpResponse<InputStream> r = http.send(b.GET().build(), HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
        return readEvents(r.body());
    }

    public static List<Event> readEvents(InputStream body) throws IOException {
        List<Event> out = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8))) {
            String event = null;
            String data = null;
            Long id = null;
            for (String line; (line = in.readLine()) != null; ) {
                if (line.isEmpty()) {
                    if (data != null) {
                        Event e = new Event(id, event, JSON.readTree(data));
                        out.add(e);
                        if ("end".equals(event)) {
                            return out;
                        }
                    }
                    event = null;
                    data = null;
                    id = null;
                } else if (line.startsWith("id: ")) {
                    id = Long.parseLong(line.substring(4));
                } else if (line.startsWith("event: ")) {
                    event = line.substring(7);
                } else if (line.startsWith("data: ")) {
                    data = line.substring(6);
                }
            }
        }
        return out;
    }

    public static JsonNode json(HttpResponse<String> r) {
        try {
            return JSON.readTree(r.body());
        } catch (IOException e) {
            throw new AssertionError("not JSON (" + r.statusCode() + "): " + r.body());
        }
    }

    /** A small train spec on data set {@code sha}. */
    public static String trainSpec(String sha, String optimizer, int epochs, String extra) {
        return """
                {"type": "train", "dataset": {"sha256": "%s"},
                 "config": {"model": {"class_name": "Sequential", "config_version": 2,
                                      "layers": [{"type": "dense", "units": 16, "activation": "relu"},
                                                 {"type": "dense", "units": 3, "activation": "softmax"}],
                                      "preprocessing": {"type": "standardize"},
                                      "compile_config": {"optimizer": %s, "loss": "sparse_categorical_crossentropy",
                                                         "metrics": ["accuracy"]}},
                            "fit": {"epochs": %d, "batch_size": 16, "seed": 1}}%s}""".formatted(sha, optimizer, epochs,
                extra);
    }

}
