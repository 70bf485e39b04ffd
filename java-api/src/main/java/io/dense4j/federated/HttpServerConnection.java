package io.dense4j.federated;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dense4j.federated.protocol.Limits;
import io.dense4j.federated.protocol.Message;
import io.dense4j.federated.protocol.MessageCodec;
import io.dense4j.federated.protocol.ProtocolException;
import io.dense4j.federated.protocol.ServerConnection;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.Collection;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * A federated client's link to a Dense4J server over HTTP or HTTPS, on the JDK's HTTP client: each message is one
 * {@code POST /v1/federated/tasks/{task}/messages} whose body is the message's binary frame
 * ({@link MessageCodec}), sent with the client's bearer token; the answer is the server's frame.
 *
 * <pre>{@code
 * var server = HttpServerConnection.builder("https://fl.example.org:8443", "7", token)
 *         .trust(Path.of("server.pem"), null)          // a self-signed or private-CA server certificate
 *         .build();
 * try (var client = FederatedClient.builder("7", server.clientId(), myData, server).build()) {
 *     client.run(Duration.ofSeconds(5));
 * }
 * }</pre>
 *
 * <p><b>Errors.</b> A message the server refuses comes back as its HTTP status, {@code {"error": ...}} and the
 * header {@code X-Dense4J-Error-Code} naming the {@link ProtocolException.Code}: it is rethrown as that
 * {@link ProtocolException}, which {@link FederatedClient} handles (a refused round is abandoned, the client polls
 * on). A refusal of the request itself (a wrong or revoked token, a token of another task, an unknown task: no
 * protocol code) is a {@link RefusedException}, which ends {@link FederatedClient#run}: polling again would not help.
 *
 * <p><b>Retries.</b> An unreachable server, a timeout, 429 (too many requests) and 503 (shutting down, restarting,
 * or coordinated by another replica) are retried with the server's {@code Retry-After} or a backoff, for up to
 * {@link Builder#retryFor}; a retried submission carries the same message id, so the server acknowledges a
 * delivered one again and changes nothing. Thread-safe.
 */
public final class HttpServerConnection implements ServerConnection {
    /** The response header carrying a protocol refusal's {@link ProtocolException.Code}. */
    public static final String ERROR_CODE_HEADER = "X-Dense4J-Error-Code";
    /** The content type of frames, both ways. */
    public static final String FRAME_CONTENT_TYPE = "application/octet-stream";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_ERROR_BODY = 64 << 10;

    private final URI base;
    private final String task;
    private final String token;
    private final HttpClient http;
    private final Duration requestTimeout;
    private final Duration retryFor;
    private final AtomicLong exchanges = new AtomicLong();
    private final AtomicLong bytesSent = new AtomicLong();
    private final AtomicLong bytesReceived = new AtomicLong();
    private volatile String clientId;

    private HttpServerConnection(Builder b) {
        this.base = b.base;
        this.task = b.task;
        this.token = b.token;
        this.requestTimeout = b.requestTimeout;
        this.retryFor = b.retryFor;
        HttpClient.Builder h = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10));
        if (b.sslContext != null) {
            h.sslContext(b.sslContext);
        }
        this.http = h.build();
    }

    /**
     * @param server the server's base URL, {@code http://} or {@code https://}
     * @param task   the task id the admin gave with the token
     * @param token  this client's token (issued once by the admin when the task was created)
     */
    public static Builder builder(String server, String task, String token) {
        return new Builder(server, task, token);
    }

    /** Who the server says this token speaks for: the task and the client id (fetched once, then remembered). */
    public String clientId() {
        String c = clientId;
        if (c == null) {
            JsonNode who = identity();
            c = who.path("client").asText("");
            if (c.isEmpty()) {
                throw new IllegalStateException("the server did not name this token's client: " + who);
            }
            clientId = c;
        }
        return c;
    }

    /**
     * {@code GET /v1/federated/tasks/{task}/client}: the task, the client this token speaks for, the task's state and
     * its model config with the input and output widths, as the server's JSON.
     */
    public JsonNode identity() {
        HttpResponse<byte[]> r = send(request("/client").GET().build());
        try {
            JsonNode who = JSON.readTree(r.body());
            if (who != null && who.hasNonNull("client") && clientId == null) {
                clientId = who.get("client").asText();
            }
            return who;
        } catch (IOException e) {
            throw new IllegalStateException("the server answered something that is not JSON to " + base + path("/client"));
        }
    }

    @Override
    public Message.ServerMessage exchange(Message.ClientMessage request) {
        byte[] frame = MessageCodec.encode(request);
        HttpResponse<byte[]> r = send(request("/messages").header("Content-Type", FRAME_CONTENT_TYPE)
                .POST(HttpRequest.BodyPublishers.ofByteArray(frame)).build());
        exchanges.incrementAndGet();
        bytesSent.addAndGet(frame.length);
        bytesReceived.addAndGet(r.body().length);
        Message m = MessageCodec.decode(r.body(), Limits.DEFAULT);
        if (!(m instanceof Message.ServerMessage s)) {
            throw new ProtocolException(ProtocolException.Code.BAD_MESSAGE, "the server answered with a client message");
        }
        return s;
    }

    /** Messages exchanged (accepted or answered), frame bytes sent and received: what this client cost the network. */
    public long exchanges() {
        return exchanges.get();
    }

    public long bytesSent() {
        return bytesSent.get();
    }

    public long bytesReceived() {
        return bytesReceived.get();
    }

    private String path(String tail) {
        return "/v1/federated/tasks/" + URLEncoder.encode(task, StandardCharsets.UTF_8) + tail;
    }

    private HttpRequest.Builder request(String tail) {
        return HttpRequest.newBuilder(URI.create(base + path(tail))).timeout(requestTimeout)
                .header("Authorization", "Bearer " + token);
    }

    /** Sends with retries of transient failures; returns a 2xx response, or throws what the failure means. */
    private HttpResponse<byte[]> send(HttpRequest r) {
        long deadline = System.nanoTime() + retryFor.toNanos();
        long backoff = 250;
        while (true) {
            String transientFailure;
            long wait;
            try {
                HttpResponse<byte[]> resp = http.send(r, HttpResponse.BodyHandlers.ofByteArray());
                int status = resp.statusCode();
                if (status / 100 == 2) {
                    return resp;
                }
                if (status != 429 && status != 503) {
                    throw failure(resp);
                }
                transientFailure = errorText(resp) + " (HTTP " + status + ")";
                wait = retryAfterMillis(resp, backoff);
            } catch (javax.net.ssl.SSLException e) {
                // not transient: this client does not trust the server's certificate, or the server speaks no TLS
                throw new UncheckedIOException(new IOException("TLS with " + base + " failed: " + e.getMessage()
                        + " (trust the server's certificate with trust(...) / --trust)", e));
            } catch (HttpTimeoutException e) {
                transientFailure = base + " did not answer within " + requestTimeout.toSeconds() + " s";
                wait = backoff;
            } catch (IOException e) {
                transientFailure = "cannot reach " + base + ": " + (e.getMessage() == null
                        ? e.getClass().getSimpleName() : e.getMessage());
                wait = backoff;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new UncheckedIOException(new java.io.InterruptedIOException("interrupted while talking to " + base));
            }
            if (System.nanoTime() + wait * 1_000_000 > deadline) {
                throw new UncheckedIOException(new IOException(transientFailure + "; gave up after retrying for "
                        + retryFor.toSeconds() + " s"));
            }
            try {
                Thread.sleep(wait);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new UncheckedIOException(new java.io.InterruptedIOException("interrupted while talking to " + base));
            }
            backoff = Math.min(backoff * 2, 5000);
        }
    }

    private static long retryAfterMillis(HttpResponse<?> r, long fallback) {
        String v = r.headers().firstValue("Retry-After").orElse("");
        if (v.matches("[0-9]{1,6}")) {
            return Math.max(100, Long.parseLong(v) * 1000);
        }
        return fallback;
    }

    /** A refusal: the protocol's, with its code, or the request's own (authentication, unknown task). */
    private static RuntimeException failure(HttpResponse<byte[]> r) {
        String message = errorText(r);
        String code = r.headers().firstValue(ERROR_CODE_HEADER).orElse(null);
        if (code != null) {
            for (ProtocolException.Code c : ProtocolException.Code.values()) {
                if (c.name().equals(code)) {
                    return new ProtocolException(c, message);
                }
            }
        }
        return new RefusedException(r.statusCode(), message);
    }

    private static String errorText(HttpResponse<byte[]> r) {
        byte[] body = r.body() == null ? new byte[0] : r.body();
        String text = new String(body, 0, Math.min(body.length, MAX_ERROR_BODY), StandardCharsets.UTF_8);
        try {
            JsonNode n = JSON.readTree(text);
            if (n != null && n.hasNonNull("error")) {
                return n.get("error").asText();
            }
        } catch (IOException ignored) {
            // not JSON: show the text
        }
        return text.isBlank() ? "no message" : text.strip();
    }

    /**
     * An SSL context trusting exactly the certificates in {@code file}: PEM certificates (a self-signed server
     * certificate or a private CA), or a PKCS12 / JKS trust store ({@code password} may be null for PEM).
     */
    public static SSLContext trusting(Path file, char[] password) {
        try {
            byte[] bytes = Files.readAllBytes(file);
            KeyStore trust;
            String text = new String(bytes, 0, Math.min(bytes.length, 4096), StandardCharsets.US_ASCII);
            if (text.contains("-----BEGIN CERTIFICATE-----")) {
                Collection<? extends Certificate> certs = CertificateFactory.getInstance("X.509")
                        .generateCertificates(new ByteArrayInputStream(bytes));
                if (certs.isEmpty()) {
                    throw new IllegalArgumentException(file + " holds no certificate");
                }
                trust = KeyStore.getInstance(KeyStore.getDefaultType());
                trust.load(null, null);
                int i = 0;
                for (Certificate c : certs) {
                    trust.setCertificateEntry("trusted-" + i++, c);
                }
            } else {
                trust = loadStore(bytes, password, file);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext ssl = SSLContext.getInstance("TLS");
            ssl.init(null, tmf.getTrustManagers(), null);
            return ssl;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the trusted certificates " + file + ": " + e.getMessage(), e);
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("cannot use " + file + " as trusted certificates: " + e.getMessage(), e);
        }
    }

    private static KeyStore loadStore(byte[] bytes, char[] password, Path file) throws GeneralSecurityException {
        GeneralSecurityException last = null;
        for (String type : new String[] {"PKCS12", "JKS"}) {
            try (InputStream in = new ByteArrayInputStream(bytes)) {
                KeyStore ks = KeyStore.getInstance(type);
                ks.load(in, password);
                return ks;
            } catch (IOException | GeneralSecurityException e) {
                last = e instanceof GeneralSecurityException g ? g : new GeneralSecurityException(e.getMessage(), e);
            }
        }
        throw new GeneralSecurityException(file + " is neither PEM certificates nor a PKCS12 / JKS trust store readable "
                + "with the given password (" + (last == null ? "" : last.getMessage()) + ")", last);
    }

    /**
     * The server refused the request itself, not a protocol message: a missing, wrong or revoked token (401/403), a
     * token of another task (403), an unknown task (404), an internal error (500).
     */
    public static final class RefusedException extends RuntimeException {
        private final int status;

        public RefusedException(int status, String message) {
            super(message + " (HTTP " + status + ")", null, false, false);
            this.status = status;
        }

        public int status() {
            return status;
        }
    }

    /** Connection settings. */
    public static final class Builder {
        private final URI base;
        private final String task;
        private final String token;
        private SSLContext sslContext;
        private Duration requestTimeout = Duration.ofSeconds(60);
        private Duration retryFor = Duration.ofMinutes(5);

        private Builder(String server, String task, String token) {
            String s = server == null ? "" : server.strip();
            if (!s.startsWith("http://") && !s.startsWith("https://")) {
                throw new IllegalArgumentException("the server must be an http:// or https:// URL, got '" + s + "'");
            }
            this.base = URI.create(s.endsWith("/") ? s.substring(0, s.length() - 1) : s);
            this.task = Objects.requireNonNull(task, "task");
            if (task.isBlank()) {
                throw new IllegalArgumentException("the task id is empty");
            }
            if (token == null || token.isBlank()) {
                throw new IllegalArgumentException("a federated client needs its token (issued by the admin with the task)");
            }
            for (char c : token.strip().toCharArray()) {
                if (c < 0x21 || c > 0x7e) {
                    throw new IllegalArgumentException("the token must be printable ASCII without spaces");
                }
            }
            this.token = token.strip();
        }

        /** Trust exactly the certificates of {@code file} (see {@link #trusting}); default: the JDK's CAs. */
        public Builder trust(Path file, char[] password) {
            return sslContext(trusting(file, password));
        }

        public Builder sslContext(SSLContext ssl) {
            this.sslContext = Objects.requireNonNull(ssl);
            return this;
        }

        /** The longest one request may take (default 60 s). */
        public Builder requestTimeout(Duration d) {
            requestTimeout = positive(d, "request timeout");
            return this;
        }

        /** How long transient failures (unreachable, timeouts, 429, 503) are retried before giving up (default 5 min). */
        public Builder retryFor(Duration d) {
            retryFor = positive(d, "retry duration");
            return this;
        }

        private static Duration positive(Duration d, String what) {
            if (d == null || d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("the " + what + " must be positive");
            }
            return d;
        }

        public HttpServerConnection build() {
            return new HttpServerConnection(this);
        }
    }
}
