package io.dense4j.cli;

import io.dense4j.http.InferenceServer;
import io.dense4j.http.ServerConfig;
import io.dense4j.service.ThreadPriority;
import io.dense4j.tensor.Device;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;

import static io.dense4j.http.ServerConfig.*;

/**
 * {@code dense4j serve}: serves every model of a registry over HTTP(S) until stopped (SIGTERM, Ctrl-C). The
 * defaults are {@link ServerConfig}'s: an option the user does not give is not passed on.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve every model of a registry: KServe V2 and TF Serving REST, management API, /metrics.")
public final class ServeCommand implements Callable<Integer> {
    private static volatile boolean serving;

    @Option(names = "--registry", required = true, description = "registry directory")
    Path registry;

    @Option(names = "--port", description = "port (default " + DEFAULT_PORT + "; 0 picks a free one)")
    Integer port;

    @Option(names = "--host", description = "address to bind (default " + DEFAULT_HOST + "; 0.0.0.0 for every interface)")
    String host;

    @Option(names = "--health-port", description = "also answer the health probes (/v2/health/live, /v2/health/ready) "
            + "on this port, from their own threads (default: none)")
    Integer healthPort;

    @Option(names = "--device", description = "cpu or cuda[:N]: where every loaded model runs (default cpu)")
    String device;

    @Option(names = "--token", defaultValue = "${env:DENSE4J_TOKEN}",
            description = "bearer token required for inference (default: $DENSE4J_TOKEN; none: open)")
    String token;

    @Option(names = "--admin-token", defaultValue = "${env:DENSE4J_ADMIN_TOKEN}",
            description = "bearer token for the management API (default: $DENSE4J_ADMIN_TOKEN; none and no "
                    + "--admin-client-ca: management off)")
    String adminToken;

    @Option(names = "--tls-keystore", description = "HTTPS with this PKCS12 or JKS key store")
    Path tlsKeyStore;

    @Option(names = "--tls-keystore-password", defaultValue = "${env:DENSE4J_TLS_KEYSTORE_PASSWORD}",
            description = "its password (default: $DENSE4J_TLS_KEYSTORE_PASSWORD)")
    String tlsKeyStorePassword;

    @Option(names = "--tls-cert", description = "HTTPS with this PEM certificate chain (with --tls-key)")
    Path tlsCert;

    @Option(names = "--tls-key", description = "the PEM private key of --tls-cert (PKCS#8, or PKCS#1 RSA; unencrypted)")
    Path tlsKey;

    @Option(names = "--admin-client-ca", description = "PEM CA certificate(s): the management API then also requires a "
            + "client certificate they issued (mutual TLS)")
    Path adminClientCa;

    @Option(names = "--max-request-bytes", description = "largest request body (default " + DEFAULT_MAX_REQUEST_BYTES + ")")
    Long maxRequestBytes;

    @Option(names = "--max-upload-bytes", description = "largest model upload (default " + DEFAULT_MAX_UPLOAD_BYTES + ")")
    Long maxUploadBytes;

    @Option(names = "--max-request-rows", description = "most rows in one inference request (default "
            + DEFAULT_MAX_REQUEST_ROWS + ")")
    Integer maxRequestRows;

    @Option(names = "--max-buffered-body-bytes", description = "request bytes all requests together may hold while "
            + "they are decoded; over it: 503 (default " + DEFAULT_MAX_BUFFERED_BODY_BYTES + ")")
    Long maxBufferedBodyBytes;

    @Option(names = "--max-connections-per-client", description = "connections per client address served in full; "
            + "further ones are answered for health, readiness, metrics and OpenAPI only, 429 otherwise (default "
            + DEFAULT_MAX_CONNECTIONS_PER_CLIENT + ")")
    Integer maxConnectionsPerClient;

    @Option(names = "--max-connections", description = "open connections in all (default " + DEFAULT_MAX_CONNECTIONS + ")")
    Integer maxConnections;

    @Option(names = "--max-active-requests-per-client", description = "requests of one client address handled at once "
            + "(each holds a thread); more get 429 (default " + DEFAULT_MAX_ACTIVE_REQUESTS_PER_CLIENT + ")")
    Integer maxActiveRequestsPerClient;

    @Option(names = "--header-timeout-ms", description = "time a request may take to send its headers (default "
            + DEFAULT_HEADER_TIMEOUT_MS + ")")
    Long headerTimeoutMs;

    @Option(names = "--body-timeout-ms", description = "time a request may take to send its body (default "
            + DEFAULT_BODY_TIMEOUT_MS + ")")
    Long bodyTimeoutMs;

    @Option(names = "--probation-timeout-ms", description = "time a connection beyond its client's share may take to "
            + "send its headers (default " + DEFAULT_PROBATION_TIMEOUT_MS + ")")
    Long probationTimeoutMs;

    @Option(names = "--max-uploads", description = "uploads (model files, data sets) streamed in at once, all clients "
            + "together; more get 503 (default " + ServerConfig.DEFAULT_MAX_UPLOADS + ")")
    Integer maxUploads;

    @Option(names = "--min-upload-bytes-per-second", description = "the slowest an upload may arrive, averaged over "
            + "each body timeout; slower ones get 408; 0: no minimum (default " + ServerConfig.DEFAULT_MIN_UPLOAD_BYTES_PER_SECOND + ")")
    Long minUploadBytesPerSecond;

    @Option(names = "--no-batching", description = "turn dynamic batching off")
    boolean noBatching;

    @Option(names = "--max-batch-size", description = "most rows per batch (default " + DEFAULT_MAX_BATCH_SIZE + ")")
    Integer maxBatchSize;

    @Option(names = "--max-queue-delay-us", description = "how long a batch waits for more requests, microseconds (default 0)")
    Long maxQueueDelayUs;

    @Option(names = "--queue-capacity", description = "requests queued per version before 503 (default "
            + DEFAULT_QUEUE_CAPACITY + ")")
    Integer queueCapacity;

    @Option(names = "--batch-threads", description = "batches of one version that may run at once (default: half the cores)")
    Integer batchThreads;

    @Option(names = "--default-alias", description = "alias used when a request names no version (default "
            + DEFAULT_ALIAS + ")")
    String defaultAlias;

    @Option(names = "--latest-versions", description = "newest versions kept loaded per model (default "
            + DEFAULT_LATEST_VERSIONS + ")")
    Integer latestVersions;

    @Option(names = "--poll-ms", description = "registry re-read interval (default " + DEFAULT_POLL_MS + ")")
    Long pollMs;

    @Option(names = "--allow-non-finite", description = "accept NaN and infinite inputs instead of answering 400")
    boolean allowNonFinite;

    @Option(names = "--no-access-log", description = "do not log every request")
    boolean noAccessLog;

    // ---- the training service (off without --state)

    @Option(names = "--state", description = "turns the training service on: its state store (jobs, trials, data sets), "
            + "a SQLite file (created if absent) or a jdbc:postgresql: URL shared by several servers (user and password "
            + "from the URL or $PGUSER / $PGPASSWORD)")
    String state;

    @Option(names = "--train-token", defaultValue = "${env:DENSE4J_TRAIN_TOKEN}",
            description = "bearer token for data sets and jobs, named 'train' (default: $DENSE4J_TRAIN_TOKEN)")
    String trainToken;

    @Option(names = "--train-tokens-file", description = "more training tokens, one 'NAME TOKEN' per line ('#' starts a "
            + "comment); the name, never the token, is recorded as the owner of jobs and data sets")
    Path trainTokensFile;

    @Option(names = "--cpus", description = "CPU threads of this server (default: every core)")
    Integer cpus;

    @Option(names = "--gpus", split = ",", description = "GPU ids jobs may use, e.g. 0,1 (default: none)")
    java.util.List<Integer> gpus;

    /** The default reserve as a picocli description needs it: '%' doubled (HelpTextTest checks it against the default). */
    static final String INFERENCE_RESERVE_DEFAULT_ESCAPED = "25%%";

    @Option(names = "--inference-reserve", description = "CPU threads never given to jobs: a count or a share of "
            + "--cpus (default " + INFERENCE_RESERVE_DEFAULT_ESCAPED + ")")
    String inferenceReserve;

    @Option(names = "--max-jobs-per-token", description = "running jobs per token, over every server sharing the "
            + "state store (default " + ServerConfig.TrainingConfig.DEFAULT_MAX_RUNNING_JOBS_PER_TOKEN + ")")
    Integer maxJobsPerToken;

    @Option(names = "--max-queued-jobs-per-token", description = "queued jobs per token (default "
            + ServerConfig.TrainingConfig.DEFAULT_MAX_QUEUED_JOBS_PER_TOKEN + ")")
    Integer maxQueuedJobsPerToken;

    @Option(names = "--jobs-dir", description = "job work directories (checkpoints), shared by servers sharing the state "
            + "store (default <registry>/.jobs)")
    Path jobsDir;

    @Option(names = "--datasets-dir", description = "uploaded data sets, shared by servers sharing the state store "
            + "(default <registry>/.datasets)")
    Path datasetsDir;

    @Option(names = "--server-id", description = "this server's name in the job queue, unique per process (default: "
            + "host, pid and a random suffix)")
    String serverId;

    @Option(names = "--job-lease-ms", description = "a running job whose server sends no heartbeat for this long is "
            + "re-queued (default " + ServerConfig.TrainingConfig.DEFAULT_LEASE_MS + ")")
    Long jobLeaseMs;

    @Option(names = "--max-dataset-bytes", description = "largest data set upload, and the most pixel bytes an IDX set "
            + "may expand to (default " + ServerConfig.TrainingConfig.DEFAULT_MAX_DATASET_BYTES + ")")
    Long maxDatasetBytes;

    @Option(names = "--storage-quota", description = "each training token's share of the disk, in bytes: the data "
            + "sets it uploaded and the models its jobs registered; an upload or a job registration beyond it gets 507 "
            + "(admins are not counted; default " + io.dense4j.service.StorageQuota.DEFAULT_BYTES + ")")
    Long storageQuota;

    @Option(names = "--max-event-streams-per-token", description = "open job event streams per token (default "
            + ServerConfig.TrainingConfig.DEFAULT_MAX_EVENT_STREAMS_PER_TOKEN + ")")
    Integer maxEventStreamsPerToken;

    @Option(names = "--job-nice", description = "CPU priority of a job's kernel threads (its arithmetic): 'idle' "
            + "(the default: Linux SCHED_IDLE, they run only on CPU time inference leaves and yield the moment a request's "
            + "thread wakes; nice 19 with a warning where it cannot be set), or a nice value 0-19 (0: the kernels run on "
            + "the job thread). The job thread itself (events, checkpoints, store and registry writes) keeps the "
            + "server's priority.",
            converter = JobNice.class)
    Integer jobNice;

    @Option(names = "--checkpoint-interval", paramLabel = "SECONDS", description = "seconds: a train job saves a checkpoint at the end of an "
            + "epoch once this long has passed since its last one, and after its last epoch; a restarted job redoes at "
            + "most this much (0: after every epoch; a job spec's checkpoint.min_interval_seconds overrides it; default "
            + io.dense4j.service.job.CheckpointSchedule.DEFAULT_MIN_INTERVAL_SECONDS + ")")
    Double checkpointIntervalSeconds;

    @Option(names = "--job-yield", paramLabel = "MILLIS", description = "milliseconds: between chunks of training "
            + "steps a job waits at most this long while inference requests are being served, so that a busy server "
            + "serves first (0: jobs never wait; default 200, at most 10000)")
    Long jobYieldMs;

    /** {@code --job-nice}: 0..19, or "idle" for {@link ThreadPriority#IDLE}; the range is checked with the config. */
    static final class JobNice implements CommandLine.ITypeConverter<Integer> {
        @Override
        public Integer convert(String value) {
            if ("idle".equalsIgnoreCase(value.trim())) {
                return ThreadPriority.IDLE;
            }
            try {
                return Integer.parseInt(value.trim());
            } catch (NumberFormatException e) {
                throw new CommandLine.TypeConversionException("'" + value + "' is neither a nice value (0-19) nor idle");
            }
        }
    }

    static boolean isServing() {
        return serving;
    }

    /**
     * What a mistyped or misunderstood --registry gets told: a file is refused; a directory of model files that is no
     * registry is named. Returns whether the directory existed.
     */
    private boolean registryNotes() throws java.io.IOException {
        if (java.nio.file.Files.isRegularFile(registry)) {
            throw new IllegalArgumentException("--registry " + registry + " is a file; give the registry's directory");
        }
        if (!java.nio.file.Files.isDirectory(registry)) {
            return false;
        }
        try (var files = java.nio.file.Files.list(registry)) {
            List<String> models = files.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".d4j") || n.endsWith(".h5") || n.endsWith(".keras")).sorted().toList();
            if (!models.isEmpty() && io.dense4j.registry.ModelRegistry.open(registry).models().isEmpty()) {
                System.out.println("note: " + registry + " holds model files (" + String.join(", ", models.subList(0,
                        Math.min(3, models.size()))) + (models.size() > 3 ? ", ..." : "") + ") but no registered "
                        + "model: a registry serves what `dense4j registry register --registry " + registry
                        + " --model NAME FILE` registered");
            }
        }
        return true;
    }

    @Override
    public Integer call() throws Exception {
        ServerConfig.BatchingConfig d = ServerConfig.BatchingConfig.defaults();
        ServerConfig.BatchingConfig batching = new ServerConfig.BatchingConfig(!noBatching,
                or(maxBatchSize, d.maxBatchSize()),
                maxQueueDelayUs == null ? d.maxQueueDelay() : Duration.ofNanos(maxQueueDelayUs * 1000),
                or(queueCapacity, d.queueCapacity()), or(batchThreads, d.threads()), d.timeout());
        ServerConfig.ClientLimits c = ServerConfig.ClientLimits.defaults();
        ServerConfig.ClientLimits clients = new ServerConfig.ClientLimits(
                or(maxConnectionsPerClient, c.maxConnectionsPerClient()), or(maxConnections, c.maxConnections()),
                or(maxActiveRequestsPerClient, c.maxActiveRequestsPerClient()),
                headerTimeoutMs == null ? c.headerTimeout() : Duration.ofMillis(headerTimeoutMs),
                bodyTimeoutMs == null ? c.bodyTimeout() : Duration.ofMillis(bodyTimeoutMs), c.idleTimeout(),
                probationTimeoutMs == null ? c.probationTimeout() : Duration.ofMillis(probationTimeoutMs),
                or(maxUploads, c.maxUploads()), or(minUploadBytesPerSecond, c.minUploadBytesPerSecond()));
        ServerConfig.TlsConfig tls = new ServerConfig.TlsConfig(tlsKeyStore, tlsKeyStorePassword, null, tlsCert, tlsKey,
                adminClientCa);
        boolean existed = registryNotes();
        ServerConfig.Builder b = ServerConfig.builder(registry)
                .inferenceToken(token).adminToken(adminToken).batching(batching).clients(clients).tls(tls)
                .rejectNonFinite(!allowNonFinite).accessLog(!noAccessLog);
        if (device != null) b.device(Device.parse(device));
        if (host != null) b.host(host);
        if (port != null) b.port(port);
        if (healthPort != null) b.healthPort(healthPort);
        if (maxRequestBytes != null) b.maxRequestBytes(maxRequestBytes);
        if (maxUploadBytes != null) b.maxUploadBytes(maxUploadBytes);
        if (maxRequestRows != null) b.maxRequestRows(maxRequestRows);
        if (maxBufferedBodyBytes != null) b.maxBufferedBodyBytes(maxBufferedBodyBytes);
        if (defaultAlias != null) b.defaultAlias(defaultAlias);
        if (latestVersions != null) b.latestVersions(latestVersions);
        if (pollMs != null) b.pollInterval(Duration.ofMillis(pollMs));
        b.training(training());
        ServerConfig cfg = b.build();
        InferenceServer server = InferenceServer.start(cfg);
        serving = true;
        Runtime.getRuntime().addShutdownHook(new Thread(server::close, "graceful-shutdown"));
        System.out.println("dense4j serving " + registry + " on " + (cfg.tls().enabled() ? "https" : "http") + "://"
                + cfg.host() + ":" + server.port() + (server.healthPort() >= 0 ? " (health port " + server.healthPort() + ")" : "")
                + "  (OpenAPI: /openapi.json, metrics: /metrics)");
        if (cfg.training() != null) {
            ServerConfig.TrainingConfig t = cfg.training();
            System.out.println("training service on: " + t.cpus() + " cpus (" + t.inferenceReserve()
                    + " kept for inference)" + (t.gpus().isEmpty() ? "" : ", gpus " + t.gpus()) + ", " + t.tokens().size()
                    + " training token" + (t.tokens().size() == 1 ? "" : "s") + "; job kernels "
                    + (t.jobNice() == ThreadPriority.IDLE ? "under SCHED_IDLE" : "at nice " + t.jobNice())
                    + ", checkpoints " + (t.checkpointInterval().isZero() ? "after every epoch"
                    : "at most every " + t.checkpointInterval().toMillis() / 1000.0 + " s")
                    + ", jobs wait " + (t.jobYield().isZero() ? "for nothing" : "up to " + t.jobYield().toMillis()
                    + " ms a chunk") + " while inference is served");
        }
        if (!existed) {
            System.out.println("note: " + registry + " did not exist: created an empty registry; it serves no model "
                    + "until one is registered (`dense4j registry register --registry " + registry + " --model NAME FILE`"
                    + (cfg.adminToken() != null || cfg.tls().adminClientAuth() ? ", or POST /admin/models/{model}/versions" : "")
                    + ")");
        }
        server.awaitShutdown();
        return 0;
    }

    /** The training service's settings, or null without --state (then no training option may be given). */
    private ServerConfig.TrainingConfig training() throws java.io.IOException {
        if (state == null || state.isBlank()) {
            boolean given = trainTokensFile != null || cpus != null || gpus != null || inferenceReserve != null
                    || maxJobsPerToken != null || maxQueuedJobsPerToken != null || jobsDir != null || datasetsDir != null
                    || serverId != null || jobLeaseMs != null || maxDatasetBytes != null || maxEventStreamsPerToken != null
                    || jobNice != null || checkpointIntervalSeconds != null || jobYieldMs != null || storageQuota != null;
            if (given) {
                throw new IllegalArgumentException("the training options need --state (the training service's state store)");
            }
            return null;
        }
        java.util.Map<String, String> tokens = new java.util.LinkedHashMap<>();
        if (trainToken != null && !trainToken.isBlank()) {
            tokens.put("train", trainToken);
        }
        if (trainTokensFile != null) {
            int n = 0;
            for (String line : java.nio.file.Files.readAllLines(trainTokensFile)) {
                n++;
                String l = line.strip();
                if (l.isEmpty() || l.startsWith("#")) {
                    continue;
                }
                String[] parts = l.split("\\s+");
                if (parts.length != 2) {
                    throw new IllegalArgumentException(trainTokensFile + " line " + n + ": expected 'NAME TOKEN'");
                }
                if (tokens.put(parts[0], parts[1]) != null) {
                    throw new IllegalArgumentException(trainTokensFile + " line " + n + ": the name '" + parts[0]
                            + "' is given twice");
                }
            }
        }
        ServerConfig.TrainingConfig.Builder t = ServerConfig.TrainingConfig.builder(state).tokens(tokens);
        if (cpus != null) t.cpus(cpus);
        if (gpus != null) t.gpus(gpus);
        if (inferenceReserve != null) t.inferenceReserve(inferenceReserve);
        if (maxJobsPerToken != null) t.maxRunningJobsPerToken(maxJobsPerToken);
        if (maxQueuedJobsPerToken != null) t.maxQueuedJobsPerToken(maxQueuedJobsPerToken);
        if (jobsDir != null) t.jobsDir(jobsDir);
        if (datasetsDir != null) t.datasetsDir(datasetsDir);
        if (serverId != null) t.serverId(serverId);
        if (jobLeaseMs != null) t.lease(Duration.ofMillis(jobLeaseMs));
        if (maxDatasetBytes != null) t.maxDatasetBytes(maxDatasetBytes);
        if (storageQuota != null) t.storageQuotaBytes(storageQuota);
        if (maxEventStreamsPerToken != null) t.maxEventStreamsPerToken(maxEventStreamsPerToken);
        if (jobNice != null) t.jobNice(jobNice);
        if (jobYieldMs != null) t.jobYield(Duration.ofMillis(jobYieldMs));
        if (checkpointIntervalSeconds != null) {
            double sec = checkpointIntervalSeconds;
            if (!(sec >= 0 && sec <= io.dense4j.service.job.JobSpec.MAX_CHECKPOINT_INTERVAL_SECONDS)) {
                throw new IllegalArgumentException("--checkpoint-interval must be 0 (every epoch) to "
                        + io.dense4j.service.job.JobSpec.MAX_CHECKPOINT_INTERVAL_SECONDS + " seconds, got "
                        + checkpointIntervalSeconds);
            }
            t.checkpointInterval(Duration.ofNanos(Math.round(sec * 1e9)));
        }
        return t.build();
    }

    private static <T> T or(T given, T fallback) {
        return given != null ? given : fallback;
    }
}
