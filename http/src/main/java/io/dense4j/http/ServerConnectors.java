package io.dense4j.http;

import jakarta.servlet.http.HttpServletRequest;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;
import org.eclipse.jetty.server.ConnectionLimit;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
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
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;

/**
 * The Jetty side of the server: the main connector (HTTP or HTTPS, with the connection limits and request
 * deadlines of {@link ConnectionGuard}), the optional health connector with its own small thread pool, the
 * handler that receives request bodies before a thread is given to them, and Jetty's own error responses as
 * JSON.
 */
final class ServerConnectors {
    /**
     * Bodies up to this size are received without holding a thread (larger ones: the rest is read in the handler,
     * within the body deadline and the body memory budget). Held before authentication, so kept small: 256 KiB
     * covers a JSON batch of about 64 rows of 784 features.
     */
    static final long EAGER_BODY_BYTES = 256L << 10;
    static final String MAIN = "main";
    static final String HEALTH = "health";

    private final ServerConfig cfg;
    private final ConnectionGuard guard;
    private ServerConnector main;
    private ServerConnector health;

    ServerConnectors(ServerConfig cfg) {
        this.cfg = cfg;
        this.guard = new ConnectionGuard(cfg.clients());
    }

    ConnectionGuard guard() {
        return guard;
    }

    /** Called by Javalin with its Jetty server before start: connectors, handlers, error handler. */
    void install(Server server) {
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        http.setSendXPoweredBy(false);
        http.setIdleTimeout(cfg.clients().idleTimeout().toMillis());
        // Jetty reuses header fields seen earlier on a connection; matching them case-insensitively would hand
        // the handler the earlier spelling of a token. Case-sensitive: the handler sees the bytes sent.
        http.setHeaderCacheCaseSensitive(true);
        http.setRequestHeaderSize(16 * 1024);

        main = cfg.tls().enabled() ? httpsConnector(server, http) : new ServerConnector(server, new HttpConnectionFactory(http));
        main.setName(MAIN);
        main.setHost(cfg.host());
        main.setPort(cfg.port());
        main.setIdleTimeout(cfg.clients().idleTimeout().toMillis());
        main.addBean(guard);
        main.addBean(new ConnectionLimit(cfg.clients().maxConnections(), main));
        server.addConnector(main);

        if (cfg.healthPort() >= 0) {
            // its own threads: probes are answered even when every thread of the main pool is busy
            QueuedThreadPool pool = new QueuedThreadPool(8, 2);
            pool.setName("dense4j-health");
            HttpConfiguration plain = new HttpConfiguration(http);
            health = new ServerConnector(server, pool, null, null, 1, 1, new HttpConnectionFactory(plain));
            health.setName(HEALTH);
            health.setHost(cfg.host());
            health.setPort(cfg.healthPort());
            health.setIdleTimeout(cfg.clients().idleTimeout().toMillis());
            server.addConnector(health);
        }

        // insertHandler puts each new wrapper outermost: the deadlines start when the headers are in, then the
        // body is received asynchronously, then Javalin gets a thread
        server.insertHandler(new EagerContentHandler(new EagerContentHandler.RetainedContentLoaderFactory(
                EAGER_BODY_BYTES, -1, false)));
        server.insertHandler(guard.headersReceived());
        server.setErrorHandler(new JsonErrorHandler());
        server.setStopTimeout(cfg.shutdownTimeout().toMillis());
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
        return new ServerConnector(server, new SslConnectionFactory(ssl, "http/1.1"), new HttpConnectionFactory(https));
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
            if (code == 400 && message != null && !message.isBlank() && message.length() < 200) {
                reason = "bad request: " + message.toLowerCase(Locale.ROOT);
            }
            byte[] body;
            try {
                body = Json.MAPPER.writeValueAsBytes(Map.of("error", reason));
            } catch (java.io.IOException e) {
                body = "{\"error\":\"bad request\"}".getBytes(StandardCharsets.UTF_8);
            }
            response.getHeaders().put("Content-Type", Json.CONTENT_TYPE);
            response.getHeaders().put("Content-Length", Integer.toString(body.length));
            response.write(true, ByteBuffer.wrap(body), callback);
        }

        @Override
        public ByteBuffer badMessageError(int status, String reason, org.eclipse.jetty.http.HttpFields.Mutable fields) {
            fields.put("Content-Type", Json.CONTENT_TYPE);
            String msg = "bad request" + (reason == null || reason.isBlank() ? "" : ": " + reason.toLowerCase(Locale.ROOT));
            try {
                return ByteBuffer.wrap(Json.MAPPER.writeValueAsBytes(Map.of("error", msg)));
            } catch (java.io.IOException e) {
                return ByteBuffer.wrap("{\"error\":\"bad request\"}".getBytes(StandardCharsets.UTF_8));
            }
        }
    }
}
