package io.dense4j.http;

import io.dense4j.registry.ModelRegistry;
import io.dense4j.registry.RegistryException;
import io.dense4j.service.JobService;
import io.dense4j.service.ForbiddenException;
import io.dense4j.service.InferenceActivity;
import io.dense4j.service.QuotaException;
import io.dense4j.service.StorageQuotaException;
import io.dense4j.service.TrainingService;
import io.dense4j.service.dataset.DatasetCatalog;
import io.dense4j.service.dataset.DatasetException;
import io.dense4j.service.scheduler.Capacity;
import io.dense4j.service.scheduler.ImpossibleRequestException;
import io.dense4j.service.store.StoreException;
import io.dense4j.tensor.Device;
import io.dense4j.tune.ConfigException;
import io.javalin.Javalin;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import io.javalin.http.HandlerType;
import io.javalin.http.HttpResponseException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static io.dense4j.http.Role.ADMIN;
import static io.dense4j.http.Role.FEDERATED;
import static io.dense4j.http.Role.INFERENCE;
import static io.dense4j.http.Role.METRICS;
import static io.dense4j.http.Role.PUBLIC;
import static io.dense4j.http.Role.TRAINING;

/**
 * The Dense4J inference server: serves every model of a registry over the Open Inference Protocol
 * (KServe V2) REST API with its binary tensor data and model repository extensions, the TensorFlow
 * Serving REST API, a management API behind admin credentials, Prometheus metrics and an OpenAPI
 * document; with a state store configured, also the training service (data sets, training and tuning jobs, live
 * job events) and federated learning (tasks coordinated here, their clients' protocol messages). Every route, with the role it requires, is listed in {@link #routes()}.
 *
 * <pre>{@code
 * try (InferenceServer s = InferenceServer.start(ServerConfig.builder(Path.of("registry")).port(8080).build())) {
 *     s.awaitShutdown();
 * }
 * }</pre>
 */
public final class InferenceServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(InferenceServer.class);

    /** Server version reported by {@code GET /v2}. */
    public static final String VERSION = versionOf();

    private static final String ATTR_MODEL = "dense4j.model";
    private static final String ATTR_VERSION = "dense4j.version";

    private final ServerConfig cfg;
    private final ServerState state = new ServerState();
    private final ServerMetrics metrics = new ServerMetrics();
    private final ModelManager manager;
    private final Access access;
    private final V2Handlers v2;
    private final TfServingHandlers tf;
    private final AdminHandlers admin;
    /** The training service, or null when the server runs without a state store. */
    private final TrainingService training;
    private final JobEventStreams jobEvents;
    private final DatasetHandlers datasets;
    private final JobHandlers jobs;
    private final FederatedHandlers federated;
    private final ServerConnectors connectors;
    private final AccessLog accessLog;
    private final BodyBudget bodyBudget;
    /** Inference requests in flight: training jobs wait for them between chunks of steps ({@code --job-yield}). */
    private final InferenceActivity inferenceActivity = new InferenceActivity();
    private final UploadSlots uploads;
    private final byte[] openApi;
    /** Each path of the route table and its {@code Allow} value (OPTIONS, 405). */
    private Map<String, String> allowed;
    private final Javalin app;
    private final Object stopLock = new Object();
    private boolean stopped;

    private InferenceServer(ServerConfig cfg) {
        this.cfg = cfg;
        this.manager = new ModelManager(ModelRegistry.open(cfg.registry()), cfg, metrics);
        this.v2 = new V2Handlers(manager, cfg, state);
        this.tf = new TfServingHandlers(manager, cfg);
        this.admin = new AdminHandlers(manager, cfg);
        this.training = cfg.training() == null ? null : openTraining(cfg, manager, inferenceActivity);
        this.access = new Access(cfg, state, training == null ? null : training.federated());
        this.federated = new FederatedHandlers(training == null ? null : training.federated());
        this.jobEvents = training == null ? null
                : new JobEventStreams(training.jobs(), cfg.training().maxEventStreamsPerToken());
        if (training != null) {
            manager.guardVersions(training.federated()::versionInUse);
            metrics.gauge("dense4j.jobs.running", "jobs running on this server",
                    () -> training.jobs().runningHere().size());
            metrics.gauge("dense4j.jobs.cpus.used", "CPU threads held by the jobs running on this server",
                    () -> training.jobs().runningHere().stream().mapToInt(a -> a.cpus()).sum());
            metrics.gauge("dense4j.jobs.event.streams", "open job event streams", jobEvents::openStreams);
        }
        this.datasets = new DatasetHandlers(training);
        this.jobs = new JobHandlers(training == null ? null : training.jobs(), jobEvents);
        this.connectors = new ServerConnectors(cfg);
        connectors.publish(metrics);
        this.accessLog = cfg.accessLog() ? new AccessLog() : null;
        this.uploads = new UploadSlots(cfg.clients().maxUploads());
        metrics.gauge("dense4j.uploads.in.progress", "uploads streaming in now", uploads::inProgress);
        this.bodyBudget = new BodyBudget(Math.max(cfg.maxBufferedBodyBytes(), cfg.maxRequestBytes()));
        this.openApi = resource("openapi.json");
        this.app = Javalin.create(this::configure);
    }

    /**
     * The training side, wired to this server: jobs register models in the served registry and promote through the
     * same alias path as the admin API (so serving reloads), under this server's capacity.
     */
    private static TrainingService openTraining(ServerConfig cfg, ModelManager manager, InferenceActivity inferenceActivity) {
        ServerConfig.TrainingConfig t = cfg.training();
        for (int g : t.gpus()) {
            try {
                Device.cuda(g);
            } catch (UnsupportedOperationException e) {
                throw new IllegalArgumentException("--gpus: " + e.getMessage());
            }
        }
        Capacity capacity = Capacity.of(t.cpus(), t.gpus(), Capacity.parseReserve(t.inferenceReserve(), t.cpus()));
        Path jobsDir = t.jobsDir() != null ? t.jobsDir() : cfg.registry().resolve(".jobs");
        Path datasetsDir = t.datasetsDir() != null ? t.datasetsDir() : cfg.registry().resolve(".datasets");
        JobService.Settings settings = new JobService.Settings(
                t.serverId() != null ? t.serverId() : TrainingService.defaultServerId(), capacity,
                t.maxRunningJobsPerToken(), jobsDir, t.lease(), TrainingService.heartbeatFor(t.lease()),
                java.time.Duration.ofSeconds(1), t.maxQueuedJobsPerToken(), t.jobNice(), t.checkpointInterval(),
                io.dense4j.service.job.EventWriter.DEFAULT_MIN_INTERVAL);
        return TrainingService.open(t.state(), datasetsDir, t.maxDatasetBytes(), settings, manager.registry(),
                (model, alias, version, actor) -> manager.setAlias(model, alias, version, actor), inferenceActivity,
                t.jobYield(), t.storageQuotaBytes());
    }

    /** Loads the registry's models, starts the training service (when configured) and starts listening. */
    public static InferenceServer start(ServerConfig cfg) {
        InferenceServer s = new InferenceServer(cfg);
        s.manager.start();
        try {
            if (s.training != null) {
                s.training.start();
            }
            s.app.start();
        } catch (RuntimeException e) {
            if (s.jobEvents != null) {
                s.jobEvents.close();
            }
            if (s.training != null) {
                s.training.close();
            }
            s.manager.close();
            throw e;
        }
        LOG.info("serving registry {} on {}://{}:{}{} (device {}, batching {}, management {}{})", cfg.registry(),
                s.connectors.scheme(), cfg.host(), s.port(),
                s.healthPort() >= 0 ? ", health on port " + s.healthPort() : "", cfg.device(),
                cfg.batching().enabled() ? "on" : "off", s.access.managementEnabled() ? "on" : "off",
                cfg.tls().adminClientAuth() ? " with client certificates" : "");
        return s;
    }

    /** The port actually bound (useful with port 0). */
    public int port() {
        return connectors.mainPort();
    }

    /** The health port actually bound, or -1 when there is none. */
    public int healthPort() {
        return connectors.healthPort();
    }

    /** The main port's connection guard (tests and diagnostics). */
    ConnectionGuard connectionGuard() {
        return connectors.guard();
    }

    /** Request threads busy now (tests: an open event stream must hold none). */
    int busyRequestThreads() {
        return app.jettyServer().server().getThreadPool() instanceof org.eclipse.jetty.util.thread.QueuedThreadPool q
                ? q.getBusyThreads() : -1;
    }

    /** The federated tasks of this server, or null without a state store (tests inspect what it holds). */
    io.dense4j.service.federated.FederatedService federatedService() {
        return training == null ? null : training.federated();
    }

    /** Open job event streams (tests). */
    int openEventStreams() {
        return jobEvents == null ? 0 : jobEvents.openStreams();
    }

    // ------------------------------------------------------------------ routes

    /** Every route of the server and the role it requires: the one place routes are declared. */
    List<Route> routes() {
        long req = cfg.maxRequestBytes();
        return List.of(
                // Open Inference Protocol (KServe V2)
                Route.get("/v2", INFERENCE, v2::serverMetadata),
                Route.get("/v2/health/live", PUBLIC, v2::live),
                Route.get("/v2/health/ready", PUBLIC, v2::ready),
                Route.get("/v2/models/{model}", INFERENCE, v2::modelMetadata),
                Route.get("/v2/models/{model}/versions/{version}", INFERENCE, v2::modelMetadata),
                Route.get("/v2/models/{model}/ready", INFERENCE, v2::modelReady),
                Route.get("/v2/models/{model}/versions/{version}/ready", INFERENCE, v2::modelReady),
                Route.post("/v2/models/{model}/infer", INFERENCE, req, v2::infer),
                Route.post("/v2/models/{model}/versions/{version}/infer", INFERENCE, req, v2::infer),
                // model repository extension: the index is read-only, load/unload change what is served
                Route.post("/v2/repository/index", INFERENCE, req, v2::repositoryIndex),
                Route.post("/v2/repository/models/{model}/load", ADMIN, req, v2::repositoryLoad),
                Route.post("/v2/repository/models/{model}/unload", ADMIN, req, v2::repositoryUnload),
                // TensorFlow Serving REST
                Route.get("/v1/models/{model}", INFERENCE, tf::status),
                Route.get("/v1/models/{model}/versions/{version}", INFERENCE, tf::status),
                Route.get("/v1/models/{model}/labels/{label}", INFERENCE, tf::status),
                Route.get("/v1/models/{model}/metadata", INFERENCE, tf::metadata),
                Route.get("/v1/models/{model}/versions/{version}/metadata", INFERENCE, tf::metadata),
                Route.get("/v1/models/{model}/labels/{label}/metadata", INFERENCE, tf::metadata),
                Route.post("/v1/models/{modelverb}", INFERENCE, req, tf::predict),
                Route.post("/v1/models/{model}/versions/{versionverb}", INFERENCE, req, tf::predict),
                Route.post("/v1/models/{model}/labels/{labelverb}", INFERENCE, req, tf::predict),
                // management
                Route.get("/admin/models", ADMIN, admin::list),
                Route.get("/admin/models/{model}", ADMIN, admin::describe),
                Route.get("/admin/models/{model}/history", ADMIN, admin::history),
                Route.get("/admin/models/{model}/verify", ADMIN, admin::verify),
                Route.upload("/admin/models/{model}/versions", ADMIN, cfg.maxUploadBytes(), admin::upload),
                Route.delete("/admin/models/{model}/versions/{version}", ADMIN, this::deleteVersion),
                Route.put("/admin/models/{model}/aliases/{alias}", ADMIN, req, admin::setAlias),
                Route.delete("/admin/models/{model}/aliases/{alias}", ADMIN, admin::removeAlias),
                Route.post("/admin/models/{model}/aliases/{alias}/rollback", ADMIN, req, admin::rollback),
                Route.put("/admin/models/{model}/traffic", ADMIN, req, admin::setTraffic),
                Route.delete("/admin/models/{model}/traffic", ADMIN, admin::clearTraffic),
                Route.post("/admin/models/{model}/load", ADMIN, req, v2::repositoryLoad),
                Route.post("/admin/models/{model}/unload", ADMIN, req, v2::repositoryUnload),
                // training service: data sets and jobs (a training token; admins too; off without --state)
                Route.upload("/v1/datasets", TRAINING, maxDatasetUpload(), datasets::upload),
                Route.get("/v1/datasets", TRAINING, datasets::list),
                Route.get("/v1/datasets/{sha256}", TRAINING, datasets::describe),
                Route.delete("/v1/datasets/{sha256}", TRAINING, datasets::delete),
                Route.post("/admin/datasets", ADMIN, req, datasets::registerLocal),
                Route.post("/v1/jobs", TRAINING, JobHandlers.MAX_SPEC_BYTES, jobs::submit),
                Route.get("/v1/jobs", TRAINING, jobs::list),
                Route.get("/v1/jobs/{id}", TRAINING, jobs::get),
                Route.delete("/v1/jobs/{id}", TRAINING, jobs::cancel),
                Route.get("/v1/jobs/{id}/events", TRAINING, jobs::events),
                Route.get("/v1/jobs/{id}/logs", TRAINING, jobs::logs),
                Route.get("/v1/jobs/{id}/trials", TRAINING, jobs::trials),
                // federated learning (off without --state): clients speak for themselves with their client tokens;
                // a message's size is checked again against its task's limit before it is read
                Route.post("/v1/federated/tasks/{task}/messages", FEDERATED, cfg.maxUploadBytes(), federated::message),
                Route.get("/v1/federated/tasks/{task}/client", FEDERATED, federated::client),
                Route.post("/admin/federated/tasks", ADMIN, FederatedHandlers.MAX_SPEC_BYTES, federated::create),
                Route.get("/admin/federated/tasks", ADMIN, federated::list),
                Route.get("/admin/federated/tasks/{task}", ADMIN, federated::status),
                Route.delete("/admin/federated/tasks/{task}", ADMIN, federated::cancel),
                // operations
                Route.get("/metrics", METRICS, this::prometheus),
                Route.get("/openapi.json", PUBLIC, ctx -> ctx.contentType(Json.CONTENT_TYPE).result(openApi)));
    }

    /** An admin's delete of a version, which gives its bytes back to the token whose job registered it. */
    private void deleteVersion(Context ctx) {
        admin.deleteVersion(ctx);
        if (training != null) {
            training.quota().recountSoon();
        }
    }

    private long maxDatasetUpload() {
        return (cfg.training() == null ? cfg.maxUploadBytes() : cfg.training().maxDatasetBytes())
                + DatasetHandlers.MULTIPART_OVERHEAD;
    }

    /**
     * The registered handler of a route: the role check and the body-size check run first, inside the
     * handler itself, so whatever path spelling the router matched, this route's own role applies. Before it,
     * the connection guard's check: a connection on probation (its client is over its share of connections)
     * reaches public routes only. An upload route's request then takes one of the upload slots.
     */
    private Handler guarded(Route route) {
        return ctx -> {
            ConnectionGuard.checkRequest(ctx, route.role());
            access.require(route.role(), ctx);
            if (route.maxBodyBytes() > 0 && ctx.req().getContentLengthLong() > route.maxBodyBytes()) {
                throw Bodies.tooLarge(route.maxBodyBytes());
            }
            if (route.maxBodyBytes() > 0) {
                requireIdentityCoding(ctx);
            }
            String uploader = route.upload() ? uploads.take(ctx) : null;
            ctx.attribute(Bodies.BUDGET_ATTRIBUTE, bodyBudget);
            boolean inference = route.role() == INFERENCE; // training jobs wait for these between chunks
            if (inference) {
                inferenceActivity.begin();
            }
            try {
                route.handler().handle(ctx);
            } catch (Exception e) {
                throw ConnectionGuard.refusalOr(ctx, e);
            } finally {
                if (inference) {
                    inferenceActivity.end();
                }
                bodyBudget.release(ctx);
                if (uploader != null) {
                    uploads.give(uploader);
                }
            }
        };
    }

    /**
     * A body in a content coding (RFC 9110 8.4: gzip, deflate, br...) is refused with 415 and {@code Accept-Encoding:
     * identity} (RFC 9110 15.5.16, 12.5.3): no route decodes one, and reading it as it came would only fail later as
     * a misleading 400 (or, worse, succeed on bytes the client did not mean). A request without a body passes.
     */
    private static void requireIdentityCoding(Context ctx) {
        if (ctx.req().getContentLengthLong() == 0) {
            return;
        }
        java.util.Enumeration<String> values = ctx.req().getHeaders("Content-Encoding");
        while (values != null && values.hasMoreElements()) {
            for (String coding : values.nextElement().split(",")) {
                String c = coding.trim();
                if (!c.isEmpty() && !c.equalsIgnoreCase("identity")) {
                    ctx.header("Accept-Encoding", "identity");
                    throw new ApiException(415, "the body is in content coding '" + (c.length() > 40 ? c.substring(0, 40)
                            + "..." : c) + "', which this server does not decode: send it unencoded (Accept-Encoding: "
                            + "identity)");
                }
            }
        }
    }

    /** Bytes Javalin copies a response through at a time (one array per response; it sets no Jetty buffer). */
    static final int RESPONSE_COPY_BUFFER = 4096;

    private void configure(JavalinConfig config) {
        config.startup.showJavalinBanner = false;
        config.startup.showOldJavalinVersionWarning = false;
        config.startup.startupWatcherEnabled = false;
        config.http.maxRequestSize = Math.max(cfg.maxRequestBytes(), 1);
        config.http.defaultContentType = Json.CONTENT_TYPE;
        // Javalin copies each response into Jetty's (buffered) output through an array of this size, allocated per
        // response: its default, Jetty's 32 KiB output buffer, was the largest allocation of a batch-1 inference
        config.http.responseBufferSize = RESPONSE_COPY_BUFFER;
        config.router.ignoreTrailingSlashes = true;
        // after the router's settings: the body limits match paths as the router does
        BodyLimits bodyLimits = new BodyLimits(routes(), config.router);
        String serverMethods = Route.serverMethods(routes());
        config.jetty.modifyServer(server -> connectors.install(server, bodyLimits, serverMethods));
        // a multipart body is parsed into one staged file per part before the handler sees any: Jetty's default of
        // 1,000 parts made a refused upload create and delete 1,000 files. Data set uploads are the only multipart
        // (and form) bodies the server takes, and they are MAX_FILES files at most
        config.jetty.modifyServletContextHandler(h -> h.setMaxFormKeys(DatasetCatalog.MAX_FILES));
        config.requestLogger.http(this::logRequest);
        for (Route r : routes()) {
            config.routes.addHttpHandler(r.method(), r.path(), guarded(r), r.role());
            if (r.method() == HandlerType.GET) {
                // HEAD is GET without the body (RFC 9110): same role, same checks, same status. Unregistered, Javalin
                // answers 200 to a HEAD of any GET route's path without running it: no credentials, no readiness
                config.routes.addHttpHandler(HandlerType.HEAD, r.path(), guarded(r), r.role());
            }
        }
        // OPTIONS answers each path of the table with its methods (public: methods are all it reveals); a method the
        // path does not have gets 405 with the same Allow (below)
        allowed = Route.allowedMethods(routes());
        allowed.forEach((path, methods) -> {
            Route o = Route.options(path, methods);
            config.routes.addHttpHandler(o.method(), o.path(), guarded(o), o.role());
        });
        config.routes.exception(ApiException.class, (e, ctx) -> Json.error(ctx, e.status(), e.getMessage()));
        config.routes.exception(RegistryException.class, (e, ctx) -> Json.error(ctx, status(e), clientMessage(e)));
        config.routes.exception(ConfigException.class, (e, ctx) -> Json.error(ctx, 400, e.getMessage()));
        config.routes.exception(ImpossibleRequestException.class, (e, ctx) -> Json.error(ctx, 400, e.getMessage()));
        config.routes.exception(DatasetException.class, (e, ctx) -> Json.error(ctx, DatasetHandlers.status(e), e.getMessage()));
        config.routes.exception(QuotaException.class, (e, ctx) -> Json.error(ctx, 429, e.getMessage()));
        config.routes.exception(StorageQuotaException.class, (e, ctx) -> Json.error(ctx, 507, e.getMessage()));
        config.routes.exception(ForbiddenException.class, (e, ctx) -> Json.error(ctx, 403, e.getMessage()));
        config.routes.exception(StoreException.class, (e, ctx) -> Json.error(ctx, status(e), clientMessage(e)));
        config.routes.exception(HttpResponseException.class, (e, ctx) -> {
            if (e.getStatus() == 404) {
                unmatched(ctx); // the router's: no route has this method and path
            } else {
                Json.error(ctx, e.getStatus(), javalinMessage(e, ctx));
            }
        });
        config.routes.exception(Exception.class, (e, ctx) -> {
            LOG.error("internal error on {} {}", ctx.method(), ctx.path(), e); // details stay in the log
            Json.error(ctx, 500, "internal server error");
        });
        config.routes.error(404, ctx -> {
            if (isJsonError(ctx)) {
                return;
            }
            unmatched(ctx);
        });
        config.routes.error(405, ctx -> {
            if (!isJsonError(ctx)) {
                Json.error(ctx, 405, "method " + ctx.method().name() + " is not allowed on " + ctx.path());
            }
        });
    }

    /**
     * A request no route takes: 405 with the path's {@code Allow} when the path is in the table under other methods
     * (RFC 9110 15.5.6), else 404.
     */
    private void unmatched(Context ctx) {
        String known = Route.matching(allowed.keySet(), ctx.path());
        if (known != null) {
            ctx.header("Allow", allowed.get(known));
            Json.error(ctx, 405, "method " + ctx.method().name() + " is not allowed on " + ctx.path() + "; allowed: "
                    + allowed.get(known));
            return;
        }
        Json.error(ctx, 404, "no such endpoint: " + ctx.method().name() + " " + ctx.path());
    }

    private static boolean isJsonError(Context ctx) {
        String type = ctx.res().getContentType();
        return type != null && type.startsWith(Json.CONTENT_TYPE) && ctx.result() != null && ctx.result().startsWith("{\"error\"");
    }

    // ------------------------------------------------------------------ cross-cutting

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
            route = ctx.endpoint().path;
        } catch (RuntimeException e) {
            route = "unmatched";
        }
        int status = ctx.statusCode();
        metrics.request(ctx.method().name(), route, status, millis);
        if (accessLog != null && AccessLog.LOG.isInfoEnabled()) {
            accessLog.log(ctx.method().name(), ctx.path(), route, status, millis,
                    Math.max(0, ctx.req().getContentLengthLong()), ctx.attribute(ATTR_MODEL), ctx.attribute(ATTR_VERSION),
                    ctx.ip());
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

    private static int status(StoreException e) {
        return switch (e.kind()) {
            case NOT_FOUND -> 404;
            case CONFLICT -> 409;
            case ERROR -> 500;
        };
    }

    private static String clientMessage(StoreException e) {
        if (e.kind() == StoreException.Kind.ERROR) {
            LOG.error("state store error", e);
            return "state store error";
        }
        return e.getMessage();
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
            case 405 -> "method " + ctx.method().name() + " is not allowed on " + ctx.path();
            case 413 -> Bodies.tooLarge(cfg.maxRequestBytes()).getMessage();
            default -> e.getMessage() == null || e.getMessage().isBlank() ? "request failed" : e.getMessage();
        };
    }

    // ------------------------------------------------------------------ lifecycle

    /**
     * Graceful stop: readiness turns 503, event streams end, running jobs are handed back to the queue (to resume
     * from their checkpoints, here after a restart or on another server), Jetty stops accepting and lets requests in
     * flight finish (up to the configured timeout), then every model version is released and freed.
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
                if (jobEvents != null) {
                    jobEvents.close(); // open streams would otherwise hold the drain for its whole timeout
                }
                if (training != null) {
                    training.close(); // running jobs stop within a chunk of steps and go back to the queue
                }
                app.stop();
            } finally {
                manager.close();
                if (accessLog != null) {
                    accessLog.close();
                }
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
}
