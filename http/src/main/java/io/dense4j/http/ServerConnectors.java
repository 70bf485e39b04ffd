package io.dense4j.http;

import jakarta.servlet.http.HttpServletRequest;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpHeaderValue;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.server.handler.EagerContentHandler;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

import java.nio.ByteBuffer;
import java.util.Locale;

/**
 * The Jetty side of the server: the main connector (HTTP or HTTPS) and the optional health connector with its own
 * small thread pool, each with its {@link ConnectionGuard} (client shares, request deadlines, connection cap);
 * the handlers in front of Javalin (the guard's request gate, the one that receives request bodies before a
 * thread is given to them, the guard's per-client thread share); and Jetty's own error responses as JSON.
 */
final class ServerConnectors {
    /**
     * Bodies up to this size are received without holding a thread (larger ones: the rest is read in the handler,
     * within the body deadline and the body memory budget). Held before authentication, so kept small: 256 KiB
     * covers a JSON batch of about 64 rows of 784 features.
     */
    static final long EAGER_BODY_BYTES = 256L << 10;
    /**
     * Connections the kernel queues for the acceptor: a burst of connections (an attack, a client pool warming up)
     * waits its turn instead of being dropped, which would cost every client caught in it, probes included, a 1 s
     * SYN retransmission (Java's default backlog is 50; Linux caps it at net.core.somaxconn, 4096 by default).
     */
    static final int ACCEPT_QUEUE = 4096;
    /** Open connections on the health port: probes need few, and it must not become a way around the main cap. */
    static final int HEALTH_MAX_CONNECTIONS = 256;
    static final String MAIN = "main";
    static final String HEALTH = "health";

    private final ServerConfig cfg;
    private final ConnectionGuard mainGuard;
    private final ConnectionGuard healthGuard;
    private ServerConnector main;
    private ServerConnector health;

    ServerConnectors(ServerConfig cfg) {
        this.cfg = cfg;
        this.mainGuard = new ConnectionGuard(cfg.clients(), cfg.clients().maxConnections());
        this.healthGuard = new ConnectionGuard(cfg.clients(), Math.min(HEALTH_MAX_CONNECTIONS, cfg.clients().maxConnections()));
    }

    /** The guard of the main port. */
    ConnectionGuard guard() {
        return mainGuard;
    }

    /** Publishes the guards' counters. */
    void publish(ServerMetrics metrics) {
        metrics.connections(MAIN, mainGuard);
        if (cfg.healthPort() >= 0) {
            metrics.connections(HEALTH, healthGuard);
        }
    }

    /**
     * Called by Javalin with its Jetty server before start: connectors, handlers, error handler. {@code bodyLimits}
     * tells which requests declare a body their route cannot accept: they skip the eager body; {@code serverMethods}
     * is what {@code OPTIONS *} answers.
     */
    void install(Server server, BodyLimits bodyLimits, String serverMethods) {
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        http.setSendXPoweredBy(false);
        http.setIdleTimeout(cfg.clients().idleTimeout().toMillis());
        // Jetty reuses header fields seen earlier on a connection; matching them case-insensitively would hand
        // the handler the earlier spelling of a token. Case-sensitive: the handler sees the bytes sent.
        http.setHeaderCacheCaseSensitive(true);
        http.setRequestHeaderSize(16 * 1024);

        main = cfg.tls().enabled() ? httpsConnector(server, http) : new ServerConnector(server, new LingeringConnectionFactory(http, mainGuard));
        main.setName(MAIN);
        main.setHost(cfg.host());
        main.setPort(cfg.port());
        main.setIdleTimeout(cfg.clients().idleTimeout().toMillis());
        main.setAcceptQueueSize(ACCEPT_QUEUE);
        mainGuard.attach(main);
        server.addConnector(main);

        if (cfg.healthPort() >= 0) {
            // its own threads: probes are answered even when every thread of the main pool is busy
            QueuedThreadPool pool = new QueuedThreadPool(8, 2);
            pool.setName("dense4j-health");
            HttpConfiguration plain = new HttpConfiguration(http);
            health = new ServerConnector(server, pool, null, null, 1, 1, new LingeringConnectionFactory(plain, healthGuard));
            health.setName(HEALTH);
            health.setHost(cfg.host());
            health.setPort(cfg.healthPort());
            health.setIdleTimeout(cfg.clients().idleTimeout().toMillis());
            health.setAcceptQueueSize(ACCEPT_QUEUE);
            healthGuard.attach(health);
            server.addConnector(health);
        }

        // insertHandler puts each new wrapper outermost: the deadlines start when the headers are in (and a
        // probation connection's request with a body is refused there), then the body is received
        // asynchronously (not one its route cannot accept: refused at once on its headers, by the route's own
        // checks), then the request takes a thread within its client's share, then its body may be counted as it is
        // read (BodyCounter), then Javalin
        server.insertHandler(BodyCounter.handler());
        server.insertHandler(ConnectionGuard.threadShare());
        EagerContentHandler eager = new EagerContentHandler(new EagerContentHandler.RetainedContentLoaderFactory(
                EAGER_BODY_BYTES, -1, false));
        eager.exclude(request -> bodyLimits.declaredTooLarge(request) || waitsToSendALargeBody(request));
        server.insertHandler(eager);
        server.insertHandler(asteriskOptions(serverMethods));
        server.insertHandler(ConnectionGuard.requestGate());
        server.setErrorHandler(new JsonErrorHandler());
        server.setStopTimeout(cfg.shutdownTimeout().toMillis());
    }

    /**
     * A request that declares a body larger than the eager bodies and waits for 100 Continue before sending it.
     * Reading its body would send 100 Continue (Jetty sends it on the first read) and have the client send what
     * the handler may refuse on its headers alone (too large, no credentials): it goes to the handler first,
     * which refuses it at once, or reads it, and then 100 Continue goes out. A thread would soon be given to a
     * body this large anyway; small ones keep arriving without a thread.
     */
    private static boolean waitsToSendALargeBody(Request request) {
        return request.getLength() > EAGER_BODY_BYTES
                && request.getHeaders().contains(HttpHeader.EXPECT, HttpHeaderValue.CONTINUE.asString());
    }

    /**
     * {@code OPTIONS *} (RFC 9110 9.3.7, the asterisk form: a question about the server, not a resource): 204 with every
     * method the server has in {@code Allow}, to anyone, as OPTIONS on a path answers. The router never sees this
     * target (it is no path), so it is answered here; any other method on it is Jetty's 400.
     */
    private static Handler.Wrapper asteriskOptions(String serverMethods) {
        return new Handler.Wrapper() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) throws Exception {
                if (HttpMethod.OPTIONS.is(request.getMethod()) && "*".equals(request.getHttpURI().getPath())) {
                    response.setStatus(204);
                    response.getHeaders().put(HttpHeader.ALLOW, serverMethods);
                    response.write(true, null, callback);
                    return true;
                }
                return super.handle(request, response, callback);
            }
        };
    }

    private ServerConnector httpsConnector(Server server, HttpConfiguration http) {
        ServerConfig.TlsConfig tls = cfg.tls();
        SslContextFactory.Server ssl = new SslContextFactory.Server();
        if (tls.keyStore() != null) {
            ssl.setKeyStorePath(tls.keyStore().toString());
            if (tls.keyStoreType() != null) {
                ssl.setKeyStoreType(tls.keyStoreType());
            }
            if (tls.keyStorePassword() != null) {
                ssl.setKeyStorePassword(tls.keyStorePassword());
            }
        } else {
            ssl.setKeyStore(TlsKeys.keyStore(tls.certificatePem(), tls.privateKeyPem()));
            ssl.setKeyStorePassword(new String(TlsKeys.IN_MEMORY_PASSWORD));
        }
        if (tls.adminClientAuth()) {
            // asked of every client, required only by the admin routes (Access): a certificate that does not
            // chain to the admin CA fails the handshake, no certificate leaves the request anonymous
            ssl.setTrustStore(TlsKeys.trustStore(tls.adminClientCa()));
            ssl.setWantClientAuth(true);
        }
        HttpConfiguration https = new HttpConfiguration(http);
        SecureRequestCustomizer src = new SecureRequestCustomizer();
        src.setSniHostCheck(false); // clients reach the server by IP and by name; SNI routing is not used
        https.addCustomizer(src);
        // TLS behind a detector: a client that speaks plain HTTP to this port is told so (PlainHttpRefusal)
        return new ServerConnector(server, new PlainHttpRefusal(new SslConnectionFactory(ssl, "http/1.1")),
                new LingeringConnectionFactory(https, mainGuard));
    }

    int mainPort() {
        return main.getLocalPort();
    }

    /** The health port actually bound, or -1. */
    int healthPort() {
        return health == null ? -1 : health.getLocalPort();
    }

    String scheme() {
        return cfg.tls().enabled() ? "https" : "http";
    }

    /** True when the request came in on the health connector. */
    static boolean isHealthConnector(HttpServletRequest req) {
        ServletContextRequest r = ServletContextRequest.getServletContextRequest(req);
        return r != null && HEALTH.equals(r.getConnectionMetaData().getConnector().getName());
    }

    /** Errors Jetty answers itself (malformed requests, oversized headers, timeouts) as {"error": "..."}. */
    private static final class JsonErrorHandler extends ErrorHandler {
        @Override
        public boolean errorPageForMethod(String method) {
            return true; // a JSON error body for every method, not only GET/POST/HEAD
        }

        @Override
        protected void generateResponse(Request request, Response response, int code, String message, Throwable cause,
                                        Callback callback) {
            String reason = switch (code) {
                case 408 -> "request timed out";
                case 413 -> "request body too large";
                case 414 -> "request URI too long";
                case 431 -> "request headers too large";
                default -> code >= 500 ? "internal server error" : "bad request";
            };
            // Jetty's detail ("Invalid Content-Length Value", "Ambiguous URI path encoding"), when it has one: its
            // message is often just "Bad Request", which said "bad request: bad request"
            String detail = message == null || message.isBlank() || message.equalsIgnoreCase("bad request")
                    ? (cause == null ? null : cause.getMessage()) : message;
            detail = detail == null ? null : detail.replaceFirst("^\\d{3}: ", "");
            if (code == 400 && detail != null && !detail.isBlank() && detail.length() < 200
                    && !detail.equalsIgnoreCase("bad request") && !detail.contains("Exception")) {
                reason = "bad request: " + detail.toLowerCase(Locale.ROOT);
            }
            if (cause instanceof ConnectionGuard.Refusal r) {
                reason = r.getMessage(); // written for the client by the guard
                if (code == 503) {
                    response.getHeaders().put("Retry-After", Integer.toString(ConnectionGuard.RETRY_AFTER_SECONDS));
                }
            }
            byte[] body = Json.errorBody(reason);
            response.getHeaders().put("Content-Type", Json.CONTENT_TYPE);
            response.getHeaders().put("Content-Length", Integer.toString(body.length));
            response.write(true, ByteBuffer.wrap(body), callback);
        }

        @Override
        public ByteBuffer badMessageError(int status, String reason, org.eclipse.jetty.http.HttpFields.Mutable fields) {
            fields.put("Content-Type", Json.CONTENT_TYPE);
            return ByteBuffer.wrap(Json.errorBody("bad request" + (reason == null || reason.isBlank() ? ""
                    : ": " + reason.toLowerCase(Locale.ROOT))));
        }
    }
}
