package io.dense4j.http;

import io.dense4j.registry.ModelRegistry;
import io.dense4j.registry.RegistryException;
import io.javalin.Javalin;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import io.javalin.router.JavalinDefaultRouting;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Locale;

/**
 * The Dense4J inference server: serves every model of a registry over the Open Inference Protocol
 * (KServe V2) REST API with its binary tensor data and model repository extensions, the TensorFlow
 * Serving REST API, a management API behind an admin token, Prometheus metrics and an OpenAPI
 * document. All routes are listed in {@link #routes}.
 *
 * <pre>{@code
 * try (InferenceServer s = InferenceServer.start(ServerConfig.builder(Path.of("registry")).port(8080).build())) {
 *     s.awaitShutdown();
 * }
 * }</pre>
 */
public final class InferenceServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(InferenceServer.class);
    private static final Logger ACCESS = LoggerFactory.getLogger("dense4j.access");

    /** Server version reported by {@code GET /v2}. */
    public static final String VERSION = versionOf();

    private static final String ATTR_MODEL = "dense4j.model";
    private static final String ATTR_VERSION = "dense4j.version";

    private final ServerConfig cfg;
    private final ServerState state = new ServerState();
    private final ServerMetrics metrics = new ServerMetrics();
    private final ModelManager manager;
    private final V2Handlers v2;
    private final TfServingHandlers tf;
    private final AdminHandlers admin;
    private final byte[] openApi;
    private final Javalin app;
    private final Object stopLock = new Object();
    private boolean stopped;

    private InferenceServer(ServerConfig cfg) {
        this.cfg = cfg;
        this.manager = new ModelManager(ModelRegistry.open(cfg.registry()), cfg, metrics);
        this.v2 = new V2Handlers(manager, cfg, state);
        this.tf = new TfServingHandlers(manager, cfg);
        this.admin = new AdminHandlers(manager, cfg);
        this.openApi = resource("openapi.json");
        this.app = Javalin.create(this::configure);
    }

    /** Loads the registry's models and starts listening. */
    public static InferenceServer start(ServerConfig cfg) {
        InferenceServer s = new InferenceServer(cfg);
        s.manager.start();
        s.app.start(cfg.host(), cfg.port());
        LOG.info("serving registry {} on http://{}:{} (device {}, batching {}, management {})", cfg.registry(),
                cfg.host(), s.port(), cfg.device(), cfg.batching().enabled() ? "on" : "off",
                cfg.adminToken() == null ? "off" : "on");
        return s;
    }

    /** The port actually bound (useful with port 0). */
    public int port() {
        return app.port();
    }

    // ------------------------------------------------------------------ routes

    /** Every route of the server, in one place. */
    private void routes(JavalinDefaultRouting r) {
        // Open Inference Protocol (KServe V2)
        r.get("/v2", v2::serverMetadata);
        r.get("/v2/health/live", v2::live);
        r.get("/v2/health/ready", v2::ready);
        r.get("/v2/models/{model}", v2::modelMetadata);
        r.get("/v2/models/{model}/versions/{version}", v2::modelMetadata);
        r.get("/v2/models/{model}/ready", v2::modelReady);
        r.get("/v2/models/{model}/versions/{version}/ready", v2::modelReady);
        r.post("/v2/models/{model}/infer", v2::infer);
        r.post("/v2/models/{model}/versions/{version}/infer", v2::infer);
        // model repository extension (load/unload need the admin token, see Access)
        r.post("/v2/repository/index", v2::repositoryIndex);
        r.post("/v2/repository/models/{model}/load", v2::repositoryLoad);
        r.post("/v2/repository/models/{model}/unload", v2::repositoryUnload);
        // TensorFlow Serving REST
        r.get("/v1/models/{model}", tf::status);
        r.get("/v1/models/{model}/versions/{version}", tf::status);
        r.get("/v1/models/{model}/labels/{label}", tf::status);
        r.post("/v1/models/{modelverb}", tf::predict);
        r.post("/v1/models/{model}/versions/{versionverb}", tf::predict);
        r.post("/v1/models/{model}/labels/{labelverb}", tf::predict);
        // management
        r.get("/admin/models", admin::list);
        r.get("/admin/models/{model}", admin::describe);
        r.get("/admin/models/{model}/history", admin::history);
        r.get("/admin/models/{model}/verify", admin::verify);
        r.post("/admin/models/{model}/versions", admin::upload);
        r.delete("/admin/models/{model}/versions/{version}", admin::deleteVersion);
        r.put("/admin/models/{model}/aliases/{alias}", admin::setAlias);
        r.delete("/admin/models/{model}/aliases/{alias}", admin::removeAlias);
        r.post("/admin/models/{model}/aliases/{alias}/rollback", admin::rollback);
        r.put("/admin/models/{model}/traffic", admin::setTraffic);
        r.delete("/admin/models/{model}/traffic", admin::clearTraffic);
        r.post("/admin/models/{model}/load", v2::repositoryLoad);
        r.post("/admin/models/{model}/unload", v2::repositoryUnload);
        // operations
        r.get("/metrics", this::prometheus);
        r.get("/openapi.json", ctx -> ctx.contentType(Json.CONTENT_TYPE).result(openApi));

        r.before(this::guard);
        r.exception(ApiException.class, (e, ctx) -> Json.error(ctx, e.status(), e.getMessage()));
        r.exception(RegistryException.class, (e, ctx) -> Json.error(ctx, status(e), clientMessage(e)));
        r.exception(HttpResponseException.class, (e, ctx) -> Json.error(ctx, e.getStatus(), javalinMessage(e, ctx)));
        r.exception(Exception.class, (e, ctx) -> {
            LOG.error("internal error on {} {}", ctx.method(), ctx.path(), e); // details stay in the log
            Json.error(ctx, 500, "internal server error");
        });
    }

    private void configure(JavalinConfig config) {
        config.showJavalinBanner = false;
        config.startupWatcherEnabled = false;
        config.http.maxRequestSize = Math.max(cfg.maxRequestBytes(), 1);
        config.http.defaultContentType = Json.CONTENT_TYPE;
        config.router.ignoreTrailingSlashes = true;
        config.jetty.modifyServer(server -> {
            // graceful stop: Jetty stops accepting, then waits this long for requests in flight
            server.setStopTimeout(cfg.shutdownTimeout().toMillis());
            server.setErrorHandler(new JsonErrorHandler()); // errors Jetty answers itself, before Javalin
        });
        config.requestLogger.http(this::logRequest);
        config.router.mount(this::routes);
    }

    // ------------------------------------------------------------------ cross-cutting

    /** Runs before every handler: draining, authentication, request size. */
    private void guard(Context ctx) {
        String path = ctx.path();
        Access access = Access.of(path);
        if (!state.accepting() && access != Access.PUBLIC) {
            throw ApiException.unavailable("the server is shutting down");
        }
        if (access == Access.ADMIN) {
            if (cfg.adminToken() == null) {
                throw new ApiException(403, "the management API is disabled: start the server with an admin token");
            }
            checkToken(ctx, cfg.adminToken(), null);
        } else if (access == Access.INFERENCE && cfg.inferenceToken() != null) {
            checkToken(ctx, cfg.inferenceToken(), cfg.adminToken());
        }
        long limit = access == Access.ADMIN && ctx.method().name().equals("POST") && path.endsWith("/versions")
                ? cfg.maxUploadBytes() : cfg.maxRequestBytes();
        if (ctx.req().getContentLengthLong() > limit) {
            throw Bodies.tooLarge(limit);
        }
    }

    /** 401 without a bearer token, 403 with a wrong one; compared in constant time. */
    private static void checkToken(Context ctx, String expected, String alsoAccepted) {
        String auth = ctx.header("Authorization");
        if (auth == null || !auth.regionMatches(true, 0, "Bearer ", 0, 7) || auth.substring(7).isBlank()) {
            ctx.header("WWW-Authenticate", "Bearer");
            throw new ApiException(401, "missing bearer token: send 'Authorization: Bearer <token>'");
        }
        byte[] given = auth.substring(7).trim().getBytes(StandardCharsets.UTF_8);
        boolean ok = MessageDigest.isEqual(given, expected.getBytes(StandardCharsets.UTF_8))
                || (alsoAccepted != null && MessageDigest.isEqual(given, alsoAccepted.getBytes(StandardCharsets.UTF_8)));
        if (!ok) {
            throw new ApiException(403, "the bearer token is not valid for this endpoint");
        }
    }

    /** Who may call a path. */
    enum Access {
        PUBLIC, INFERENCE, ADMIN;

        static Access of(String path) {
            if (path.equals("/v2/health/live") || path.equals("/v2/health/ready") || path.equals("/metrics")
                    || path.equals("/openapi.json")) {
                return PUBLIC;
            }
            if (path.startsWith("/admin/") || path.equals("/admin")
                    || (path.startsWith("/v2/repository/models/") && (path.endsWith("/load") || path.endsWith("/unload")))) {
                return ADMIN;
            }
            return INFERENCE;
        }
    }

    /** Notes the model and version serving a request, for the access log. */
    static void tagModel(Context ctx, String model, int version) {
        ctx.attribute(ATTR_MODEL, model);
        ctx.attribute(ATTR_VERSION, version);
    }

    /** Runs the model, turning a width mismatch the engine reports into a 400. */
    static float[][] predict(LoadedVersion lv, float[][] rows) {
        try {
            return lv.predict(rows);
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage());
        }
    }

    private void logRequest(Context ctx, Float millis) {
        String route;
        try {
            route = ctx.endpointHandlerPath();
        } catch (RuntimeException e) {
            route = "-"; // refused before routing (auth, size)
        }
        if (route.startsWith("No handler")) {
            route = "unmatched";
        }
        int status = ctx.statusCode();
        metrics.request(ctx.method().name(), route, status, millis);
        if (cfg.accessLog() && ACCESS.isInfoEnabled()) {
            Object model = ctx.attribute(ATTR_MODEL);
            Object version = ctx.attribute(ATTR_VERSION);
            // logfmt: one line per request, key=value, easy to grep and to ship to a log pipeline
            ACCESS.info(String.format(Locale.ROOT,
                    "method=%s path=\"%s\" route=\"%s\" status=%d ms=%.3f bytes_in=%d model=%s version=%s remote=%s",
                    ctx.method().name(), ctx.path().replace("\"", "%22"), route, status, millis,
                    Math.max(0, ctx.req().getContentLengthLong()), model == null ? "-" : model,
                    version == null ? "-" : version, ctx.ip()));
        }
    }

    private void prometheus(Context ctx) {
        ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(metrics.scrape());
    }

    private static int status(RegistryException e) {
        return switch (e.kind()) {
            case NOT_FOUND -> 404;
            case CONFLICT -> 409;
            case INVALID -> 400;
            case IO -> 500;
        };
    }

    private static String clientMessage(RegistryException e) {
        if (e.kind() == RegistryException.Kind.IO) {
            LOG.error("registry storage error", e);
            return "registry storage error";
        }
        return e.getMessage();
    }

    private String javalinMessage(HttpResponseException e, Context ctx) {
        return switch (e.getStatus()) {
            case 404 -> "no such endpoint: " + ctx.method().name() + " " + ctx.path();
            case 405 -> "method " + ctx.method().name() + " is not allowed on " + ctx.path();
            case 413 -> Bodies.tooLarge(cfg.maxRequestBytes()).getMessage();
            default -> e.getMessage();
        };
    }

    // ------------------------------------------------------------------ lifecycle

    /**
     * Graceful stop: readiness turns 503, Jetty stops accepting and lets requests in flight finish
     * (up to the configured timeout), then every model version is released and freed.
     */
    @Override
    public void close() {
        synchronized (stopLock) {
            if (stopped) {
                return;
            }
            stopped = true;
            state.stopAccepting();
            LOG.info("shutting down: draining requests in flight");
            try {
                app.stop();
            } finally {
                manager.close();
                stopLock.notifyAll();
                LOG.info("stopped");
            }
        }
    }

    /** Blocks until {@link #close()} has run (from another thread or a shutdown hook). */
    public void awaitShutdown() throws InterruptedException {
        synchronized (stopLock) {
            while (!stopped) {
                stopLock.wait();
            }
        }
    }

    private static byte[] resource(String name) {
        try (InputStream in = InferenceServer.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("resource " + name + " is missing from the jar");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException("cannot read resource " + name, e);
        }
    }

    private static String versionOf() {
        String v = InferenceServer.class.getPackage().getImplementationVersion();
        return v == null ? "0.1.0-SNAPSHOT" : v;
    }

    /** Jetty's own error pages (malformed requests it rejects before routing) as JSON too. */
    private static final class JsonErrorHandler extends ErrorHandler {
        @Override
        public void handle(String target, Request baseRequest, HttpServletRequest request, HttpServletResponse response)
                throws IOException {
            baseRequest.setHandled(true);
            int status = response.getStatus();
            String reason = status == 413 ? "request body too large" : status == 431 ? "request headers too large"
                    : status >= 500 ? "internal server error" : "bad request";
            response.setContentType(Json.CONTENT_TYPE);
            byte[] body = Json.MAPPER.writeValueAsBytes(java.util.Map.of("error", reason));
            response.setContentLength(body.length);
            response.getOutputStream().write(body);
        }

        /** Requests Jetty cannot even parse (bad Content-Length, bad URI, oversized headers). */
        @Override
        public java.nio.ByteBuffer badMessageError(int status, String reason, org.eclipse.jetty.http.HttpFields.Mutable fields) {
            fields.put(org.eclipse.jetty.http.HttpHeader.CONTENT_TYPE, Json.CONTENT_TYPE);
            String msg = "bad request" + (reason == null || reason.isBlank() ? "" : ": " + reason.toLowerCase(Locale.ROOT));
            try {
                return java.nio.ByteBuffer.wrap(Json.MAPPER.writeValueAsBytes(java.util.Map.of("error", msg)));
            } catch (IOException e) {
                return java.nio.ByteBuffer.wrap("{\"error\":\"bad request\"}".getBytes(StandardCharsets.UTF_8));
            }
        }
    }
}
