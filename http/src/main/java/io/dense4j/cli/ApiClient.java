package io.dense4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.StringJoiner;

/**
 * The training service's HTTP API from the command line, on the JDK's HTTP client. Every failure becomes one
 * line: the server's own {@code {"error": ...}} message with the status, or why the server could not be reached.
 */
final class ApiClient {
    static final ObjectMapper JSON = new ObjectMapper();

    /** {@code --server} and {@code --token}, shared by the client commands; both also from the environment. */
    static final class Options {
        @Option(names = "--server", defaultValue = "${env:DENSE4J_SERVER:-http://127.0.0.1:8080}",
                description = "server URL (default: $DENSE4J_SERVER, else http://127.0.0.1:8080)")
        String server;

        @Option(names = "--token", defaultValue = "${env:DENSE4J_TRAIN_TOKEN}",
                description = "training (or admin) bearer token (default: $DENSE4J_TRAIN_TOKEN)")
        String token;

        @picocli.CommandLine.Mixin
        TrustOptions trust = new TrustOptions();

        ApiClient client() {
            return new ApiClient(server, token, trust.sslContext());
        }
    }

    private final URI base;
    private final String token;
    private final HttpClient http;

    ApiClient(String server, String token) {
        this(server, token, null);
    }

    /** @param ssl the trust for an https:// server, or null for the JDK's default */
    ApiClient(String server, String token, javax.net.ssl.SSLContext ssl) {
        String s = server == null ? "" : server.strip();
        if (!s.startsWith("http://") && !s.startsWith("https://")) {
            throw new IllegalArgumentException("--server must be an http:// or https:// URL, got '" + s + "'");
        }
        this.base = URI.create(s.endsWith("/") ? s.substring(0, s.length() - 1) : s);
        this.token = token == null || token.isBlank() ? null : token.strip();
        HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10));
        if (ssl != null) {
            b.sslContext(ssl);
        }
        this.http = b.build();
    }

    URI uri(String path) {
        return URI.create(base + path);
    }

    HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return b;
    }

    JsonNode get(String path) {
        return json(send(request(path).timeout(Duration.ofSeconds(60)).GET().build()));
    }

    JsonNode delete(String path) {
        return json(send(request(path).timeout(Duration.ofSeconds(60)).DELETE().build()));
    }

    JsonNode post(String path, String contentType, HttpRequest.BodyPublisher body) {
        return json(send(request(path).header("Content-Type", contentType).POST(body).build()));
    }

    /** Sends, returns the body of a 2xx answer; otherwise throws the server's error as one line. */
    String send(HttpRequest r) {
        HttpResponse<String> resp = exchange(r, HttpResponse.BodyHandlers.ofString());
        if (resp.statusCode() / 100 != 2) {
            throw failure(resp.statusCode(), resp.body());
        }
        return resp.body();
    }

    /** Sends and returns the response as a stream (for Server-Sent Events); errors as {@link #send}. */
    HttpResponse<InputStream> stream(HttpRequest r) throws IOException {
        HttpResponse<InputStream> resp = exchange(r, HttpResponse.BodyHandlers.ofInputStream());
        if (resp.statusCode() / 100 != 2) {
            String body;
            try (InputStream in = resp.body()) {
                body = new String(in.readNBytes(64 << 10), StandardCharsets.UTF_8);
            }
            throw failure(resp.statusCode(), body);
        }
        return resp;
    }

    private <T> HttpResponse<T> exchange(HttpRequest r, HttpResponse.BodyHandler<T> handler) {
        try {
            return http.send(r, handler);
        } catch (ConnectException | HttpConnectTimeoutException e) {
            throw new ClientException("cannot reach " + base + ": " + (e.getMessage() == null
                    ? "connection refused" : e.getMessage()), 1);
        } catch (HttpTimeoutException e) {
            throw new ClientException(base + " did not answer in time", 1);
        } catch (IOException e) {
            throw new ClientException("request to " + base + " failed: " + (e.getMessage() == null
                    ? e.getClass().getSimpleName() : e.getMessage()), 1);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ClientException("interrupted", 1);
        }
    }

    private static ClientException failure(int status, String body) {
        String message;
        try {
            JsonNode n = JSON.readTree(body);
            message = n != null && n.hasNonNull("error") ? n.get("error").asText() : body;
        } catch (IOException e) {
            message = body == null || body.isBlank() ? "no message" : body.strip();
        }
        if (message.length() > 2000) {
            message = message.substring(0, 2000) + "...";
        }
        String hint = status == 401 ? " (give --token or set DENSE4J_TRAIN_TOKEN)" : "";
        return new ClientException(message + " (HTTP " + status + ")" + hint, status == 404 ? 3 : status == 409 ? 4 : 1);
    }

    private static JsonNode json(String body) {
        try {
            return JSON.readTree(body);
        } catch (IOException e) {
            throw new ClientException("the server answered something that is not JSON", 1);
        }
    }

    /** A query string from the non-null parameters. */
    static String query(Map<String, String> params) {
        StringJoiner j = new StringJoiner("&", "?", "");
        j.setEmptyValue("");
        params.forEach((k, v) -> {
            if (v != null) {
                j.add(k + "=" + URLEncoder.encode(v, StandardCharsets.UTF_8));
            }
        });
        return j.toString();
    }

    /** A failed request, with the exit code the command ends with (3: not found, 4: conflict, 1: other). */
    static final class ClientException extends RuntimeException {
        final int exitCode;

        ClientException(String message, int exitCode) {
            super(message, null, false, false);
            this.exitCode = exitCode;
        }
    }
}
