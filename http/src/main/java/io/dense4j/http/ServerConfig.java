package io.dense4j.http;

import io.dense4j.service.ThreadPriority;
import io.dense4j.service.job.CheckpointSchedule;
import io.dense4j.service.job.JobSpec;
import io.dense4j.tensor.Device;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Settings of an {@link InferenceServer}. Every default lives here, once: the builder starts from them and
 * the command line ({@code dense4j serve}) passes on only what the user gave. Build with {@link #builder(Path)}.
 *
 * @param registry           registry directory to serve
 * @param host               address to bind (loopback by default: exposing the server is a decision)
 * @param port               port, 0 for an ephemeral one
 * @param healthPort         separate port answering only the public routes (health, metrics, OpenAPI) from its
 *                           own small thread pool, so probes get through whatever the main port is going
 *                           through; -1 for none, 0 for an ephemeral one
 * @param device             device models run on
 * @param inferenceToken     bearer token required for inference and metadata, or null for none
 * @param adminToken         bearer token required for management; management is off without it (or an admin CA)
 * @param maxRequestBytes    largest inference/metadata request body (larger: 413)
 * @param maxUploadBytes     largest model upload body (larger: 413)
 * @param maxRequestRows     most rows one inference request may carry (more: 400), checked before allocating
 * @param maxBufferedBodyBytes request bytes all requests together may hold in memory while they are decoded (a
 *                           JSON tree is several times its text); over it a request waits briefly, then gets 503
 * @param batching           dynamic batching settings
 * @param defaultAlias       alias that requests without a version go to, when it exists
 * @param latestVersions     how many of the newest versions each model keeps loaded (Triton's "latest N")
 * @param pollInterval       how often the registry is re-read for changes made by other processes
 * @param rejectNonFinite    whether NaN and infinite inputs are refused with 400
 * @param accessLog          whether each request is logged (logger {@code dense4j.access}, written asynchronously)
 * @param shutdownTimeout    how long a graceful stop waits for requests in flight
 * @param clients            limits that keep slow or greedy clients from starving the others
 * @param tls                HTTPS settings (off by default)
 * @param training           the training service (datasets, jobs), or null: off
 */
public record ServerConfig(
        Path registry,
        String host,
        int port,
        int healthPort,
        Device device,
        String inferenceToken,
        String adminToken,
        long maxRequestBytes,
        long maxUploadBytes,
        int maxRequestRows,
        long maxBufferedBodyBytes,
        BatchingConfig batching,
        String defaultAlias,
        int latestVersions,
        Duration pollInterval,
        boolean rejectNonFinite,
        boolean accessLog,
        Duration shutdownTimeout,
        ClientLimits clients,
        TlsConfig tls,
        TrainingConfig training) {

    public static final String DEFAULT_HOST = "127.0.0.1";
    public static final int DEFAULT_PORT = 8080;
    public static final long DEFAULT_MAX_REQUEST_BYTES = 16L << 20;
    public static final long DEFAULT_MAX_UPLOAD_BYTES = 1L << 30;
    public static final int DEFAULT_MAX_REQUEST_ROWS = 8192;
    public static final long DEFAULT_MAX_BUFFERED_BODY_BYTES = 64L << 20;
    public static final String DEFAULT_ALIAS = "stable";
    public static final int DEFAULT_LATEST_VERSIONS = 1;
    public static final long DEFAULT_POLL_MS = 2000;
    public static final int DEFAULT_MAX_BATCH_SIZE = 64;
    public static final int DEFAULT_QUEUE_CAPACITY = 1024;
    public static final int DEFAULT_MAX_CONNECTIONS_PER_CLIENT = 256;
    public static final int DEFAULT_MAX_CONNECTIONS = 4096;
    /** A quarter of the server's threads (Javalin's pool has 250). */
    public static final int DEFAULT_MAX_ACTIVE_REQUESTS_PER_CLIENT = 64;
    public static final long DEFAULT_HEADER_TIMEOUT_MS = 10_000;
    public static final long DEFAULT_BODY_TIMEOUT_MS = 30_000;
    public static final long DEFAULT_IDLE_TIMEOUT_MS = 30_000;
    public static final long DEFAULT_PROBATION_TIMEOUT_MS = 2_000;
    /** Uploads streamed at once: each holds a thread while its body arrives, so they are kept to a few. */
    public static final int DEFAULT_MAX_UPLOADS = 16;
    /** The slowest a streamed upload may arrive, averaged over each body timeout: 16 KiB/s. */
    public static final long DEFAULT_MIN_UPLOAD_BYTES_PER_SECOND = 16L << 10;

    public ServerConfig {
        Objects.requireNonNull(registry, "registry");
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(batching, "batching");
        Objects.requireNonNull(defaultAlias, "defaultAlias");
        Objects.requireNonNull(clients, "clients");
        Objects.requireNonNull(tls, "tls");
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be 0..65535, got " + port);
        }
        if (healthPort < -1 || healthPort > 65535) {
            throw new IllegalArgumentException("health port must be -1 (none) or 0..65535, got " + healthPort);
        }
        if (healthPort > 0 && healthPort == port) {
            throw new IllegalArgumentException("the health port must differ from the main port (" + port + ")");
        }
        if (maxRequestBytes < 1 || maxUploadBytes < 1 || maxRequestRows < 1 || maxBufferedBodyBytes < 1) {
            throw new IllegalArgumentException("request size and row limits must be positive");
        }
        if (latestVersions < 1) {
            throw new IllegalArgumentException("latestVersions must be at least 1");
        }
        inferenceToken = checkToken(inferenceToken, "inference token");
        adminToken = checkToken(adminToken, "admin token");
        if (inferenceToken != null && inferenceToken.equals(adminToken)) {
            // one token for both would let every inference client upload, promote and delete models
            throw new IllegalArgumentException("the inference token equals the admin token: give each role its own");
        }
        if (training != null) {
            for (Map.Entry<String, String> t : training.tokens().entrySet()) {
                if (t.getValue().equals(inferenceToken) || t.getValue().equals(adminToken)) {
                    throw new IllegalArgumentException("the training token '" + t.getKey() + "' equals the "
                            + (t.getValue().equals(adminToken) ? "admin" : "inference") + " token: give each role its own");
                }
            }
        }
    }

    /** Tokens are visible ASCII, so the bytes on the wire and the configured string are the same thing. */
    private static String checkToken(String s, String what) {
        if (s == null || s.isBlank()) {
            return null;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x21 || c > 0x7e) {
                throw new IllegalArgumentException("the " + what + " must be printable ASCII without spaces");
            }
        }
        return s;
    }

    public static Builder builder(Path registry) {
        return new Builder(registry);
    }

    /**
     * Dynamic batching: requests for the same model version that arrive while the model is busy are
     * run together as one batch.
     *
     * @param enabled       on by default
     * @param maxBatchSize  most rows run in one batch
     * @param maxQueueDelay how long the first request of a batch may wait for company; zero (the
     *                      default, as in Triton) batches only what is already queued, so a lone
     *                      request never waits, while under load batches form by themselves
     * @param queueCapacity most requests waiting per model version; beyond it requests get 503
     * @param threads       batches of one model version that may run at once
     * @param timeout       longest a request waits for its batch before it gets 503
     */
    public record BatchingConfig(boolean enabled, int maxBatchSize, Duration maxQueueDelay, int queueCapacity,
                                 int threads, Duration timeout) {
        public BatchingConfig {
            if (maxBatchSize < 1 || queueCapacity < 1 || threads < 1) {
                throw new IllegalArgumentException("batch size, queue capacity and threads must be positive");
            }
            Objects.requireNonNull(maxQueueDelay);
            Objects.requireNonNull(timeout);
        }

        public static BatchingConfig defaults() {
            return new BatchingConfig(true, DEFAULT_MAX_BATCH_SIZE, Duration.ZERO, DEFAULT_QUEUE_CAPACITY,
                    Math.max(1, Runtime.getRuntime().availableProcessors() / 2), Duration.ofSeconds(30));
        }

        public static BatchingConfig disabled() {
            BatchingConfig d = defaults();
            return new BatchingConfig(false, d.maxBatchSize, d.maxQueueDelay, d.queueCapacity, d.threads, d.timeout);
        }
    }

    /**
     * What one client may hold, and how long a request may take to arrive. A client is one remote address (IPv6:
     * one /64 network). Request headers and bodies are received without holding a thread; these bounds free the
     * connection too. See {@link ConnectionGuard} for how they are enforced.
     *
     * @param maxConnectionsPerClient    connections per client served in full; further ones are on probation: they
     *                                   answer one request to a public route (health, readiness, metrics,
     *                                   OpenAPI), anything else gets 429, then they close
     * @param maxConnections             open connections in all (file descriptors); near it, each new connection
     *                                   closes a waiting one of a client holding at least the average number
     * @param maxActiveRequestsPerClient requests of one client handled at once, each holding a thread (a client
     *                                   that reads its responses slowly holds them longer); more get 429, and
     *                                   fewer near the end of the server's threads for clients holding at least
     *                                   the average. Health and readiness probes are exempt
     * @param headerTimeout              from the first byte of a request (or the connection's opening, TLS
     *                                   handshake included) to its last header
     * @param bodyTimeout                from the last header to the last body byte (then 408)
     * @param idleTimeout                a connection with nothing to do (or no byte for this long, either way) is
     *                                   closed
     * @param probationTimeout           the header timeout of a connection on probation (under TLS, from the end of
     *                                   the handshake, which the header timeout bounds)
     * @param maxUploads                 uploads (model files, data sets) whose bodies stream in at once, all clients
     *                                   together: each holds a thread while it arrives, so slow ones cannot take
     *                                   the threads inference needs; one client may hold a quarter of them; more
     *                                   get 503 with Retry-After
     * @param minUploadBytesPerSecond    the slowest a streamed upload may arrive, over each body timeout (then 408),
     *                                   so a trickle cannot hold an upload's thread for ever (0: no minimum)
     */
    public record ClientLimits(int maxConnectionsPerClient, int maxConnections, int maxActiveRequestsPerClient,
                               Duration headerTimeout, Duration bodyTimeout, Duration idleTimeout,
                               Duration probationTimeout, int maxUploads, long minUploadBytesPerSecond) {
        public ClientLimits {
            if (maxConnectionsPerClient < 1 || maxConnections < 1 || maxActiveRequestsPerClient < 1 || maxUploads < 1
                    || minUploadBytesPerSecond < 0) {
                throw new IllegalArgumentException("connection and request limits must be positive");
            }
            for (Duration d : new Duration[] {headerTimeout, bodyTimeout, idleTimeout, probationTimeout}) {
                if (d == null || d.isNegative() || d.isZero()) {
                    throw new IllegalArgumentException("client timeouts must be positive");
                }
            }
        }

        public static ClientLimits defaults() {
            return new ClientLimits(DEFAULT_MAX_CONNECTIONS_PER_CLIENT, DEFAULT_MAX_CONNECTIONS,
                    DEFAULT_MAX_ACTIVE_REQUESTS_PER_CLIENT, Duration.ofMillis(DEFAULT_HEADER_TIMEOUT_MS),
                    Duration.ofMillis(DEFAULT_BODY_TIMEOUT_MS), Duration.ofMillis(DEFAULT_IDLE_TIMEOUT_MS),
                    Duration.ofMillis(DEFAULT_PROBATION_TIMEOUT_MS), DEFAULT_MAX_UPLOADS,
                    DEFAULT_MIN_UPLOAD_BYTES_PER_SECOND);
        }

        public ClientLimits withMaxConnectionsPerClient(int v) {
            return new ClientLimits(v, maxConnections, maxActiveRequestsPerClient, headerTimeout, bodyTimeout,
                    idleTimeout, probationTimeout, maxUploads, minUploadBytesPerSecond);
        }

        public ClientLimits withMaxConnections(int v) {
            return new ClientLimits(maxConnectionsPerClient, v, maxActiveRequestsPerClient, headerTimeout, bodyTimeout,
                    idleTimeout, probationTimeout, maxUploads, minUploadBytesPerSecond);
        }

        public ClientLimits withMaxActiveRequestsPerClient(int v) {
            return new ClientLimits(maxConnectionsPerClient, maxConnections, v, headerTimeout, bodyTimeout,
                    idleTimeout, probationTimeout, maxUploads, minUploadBytesPerSecond);
        }

        public ClientLimits withHeaderTimeout(Duration v) {
            return new ClientLimits(maxConnectionsPerClient, maxConnections, maxActiveRequestsPerClient, v, bodyTimeout,
                    idleTimeout, probationTimeout, maxUploads, minUploadBytesPerSecond);
        }

        public ClientLimits withBodyTimeout(Duration v) {
            return new ClientLimits(maxConnectionsPerClient, maxConnections, maxActiveRequestsPerClient, headerTimeout, v,
                    idleTimeout, probationTimeout, maxUploads, minUploadBytesPerSecond);
        }

        public ClientLimits withIdleTimeout(Duration v) {
            return new ClientLimits(maxConnectionsPerClient, maxConnections, maxActiveRequestsPerClient, headerTimeout,
                    bodyTimeout, v, probationTimeout, maxUploads, minUploadBytesPerSecond);
        }

        public ClientLimits withMaxUploads(int v) {
            return new ClientLimits(maxConnectionsPerClient, maxConnections, maxActiveRequestsPerClient, headerTimeout,
                    bodyTimeout, idleTimeout, probationTimeout, v, minUploadBytesPerSecond);
        }

        public ClientLimits withMinUploadBytesPerSecond(long v) {
            return new ClientLimits(maxConnectionsPerClient, maxConnections, maxActiveRequestsPerClient, headerTimeout,
                    bodyTimeout, idleTimeout, probationTimeout, maxUploads, v);
        }

        public ClientLimits withProbationTimeout(Duration v) {
            return new ClientLimits(maxConnectionsPerClient, maxConnections, maxActiveRequestsPerClient, headerTimeout,
                    bodyTimeout, idleTimeout, v, maxUploads, minUploadBytesPerSecond);
        }
    }

    /**
     * HTTPS. Give a key store (PKCS12 or JKS) or a PEM certificate chain and its PEM private key (PKCS#8, or
     * PKCS#1 RSA). With {@code adminClientCa} (PEM CA certificates) the management API also requires a client
     * certificate issued by one of them (mutual TLS); other routes do not ask for one.
     */
    public record TlsConfig(Path keyStore, String keyStorePassword, String keyStoreType, Path certificatePem,
                            Path privateKeyPem, Path adminClientCa) {
        public static final TlsConfig OFF = new TlsConfig(null, null, null, null, null, null);

        public TlsConfig {
            if (keyStore != null && certificatePem != null) {
                throw new IllegalArgumentException("give either a TLS key store or a PEM certificate and key, not both");
            }
            if ((certificatePem == null) != (privateKeyPem == null)) {
                throw new IllegalArgumentException("a PEM certificate needs its PEM private key, and the other way round");
            }
            if (adminClientCa != null && keyStore == null && certificatePem == null) {
                throw new IllegalArgumentException("client certificates for the admin API need TLS: give a key store or a PEM certificate");
            }
        }

        public static TlsConfig keyStore(Path file, String password) {
            return new TlsConfig(file, password, null, null, null, null);
        }

        public static TlsConfig pem(Path certificateChain, Path privateKey) {
            return new TlsConfig(null, null, null, certificateChain, privateKey, null);
        }

        public TlsConfig withAdminClientCa(Path caPem) {
            return new TlsConfig(keyStore, keyStorePassword, keyStoreType, certificatePem, privateKeyPem, caPem);
        }

        public boolean enabled() {
            return keyStore != null || certificatePem != null;
        }

        public boolean adminClientAuth() {
            return adminClientCa != null;
        }
    }

    /**
     * The training service: data sets, training/tuning/evaluation jobs and their scheduler. Jobs, trials and data
     * set records live in the state store; job work directories and uploaded data sets in directories that servers
     * sharing a queue must share too (by default beside the registry, which they share already).
     *
     * @param state                 SQLite file path, or a {@code jdbc:postgresql:} URL for servers sharing a queue
     * @param tokens                training bearer tokens by name; the name (never the token) is recorded as the
     *                              owner of what its holder creates. The admin credentials also pass, as "admin"
     * @param cpus                  CPU threads of this server
     * @param gpus                  GPU device ids jobs may use
     * @param inferenceReserve      threads kept from jobs for inference ("1", or a share: "25%")
     * @param maxRunningJobsPerToken jobs one token may have running at once (over every server sharing the queue)
     * @param maxQueuedJobsPerToken jobs one token may have waiting
     * @param jobsDir               job work directories (checkpoints, model files); null: {@code <registry>/.jobs}
     * @param datasetsDir           uploaded data sets; null: {@code <registry>/.datasets}
     * @param serverId              unique per server process (claims, logs); null: host, pid and a random suffix
     * @param lease                 how long a claimed job stays claimed without a heartbeat (a dead server's job is
     *                              re-queued after it)
     * @param maxDatasetBytes       largest data set upload, and the most pixel bytes an IDX set may expand to
     * @param maxEventStreamsPerToken open event streams (Server-Sent Events) per token
     * @param jobNice               priority of a job's kernel threads (nice 0..19, or ThreadPriority.IDLE; Linux), so training yields the CPU to inference
     * @param checkpointInterval    a train job checkpoints at the end of an epoch once this long has passed since its
     *                              last checkpoint (and after its last epoch), unless its spec says otherwise; 0: every epoch
     * @param jobYield              between chunks of training steps a job waits at most this long while inference
     *                              requests are in flight (0: never waits)
     * @param storageQuotaBytes     each training token's share of the disk: the data sets it uploaded and the models
     *                              its jobs registered ({@link io.dense4j.service.StorageQuota}; admins are not counted)
     */
    public record TrainingConfig(String state, Map<String, String> tokens, int cpus, List<Integer> gpus,
                                 String inferenceReserve, int maxRunningJobsPerToken, int maxQueuedJobsPerToken,
                                 Path jobsDir, Path datasetsDir, String serverId, Duration lease, long maxDatasetBytes,
                                 int maxEventStreamsPerToken, int jobNice, Duration checkpointInterval,
                                 Duration jobYield, long storageQuotaBytes) {
        public static final String DEFAULT_INFERENCE_RESERVE = "25%";
        public static final int DEFAULT_MAX_RUNNING_JOBS_PER_TOKEN = 2;
        public static final int DEFAULT_MAX_QUEUED_JOBS_PER_TOKEN = 100;
        public static final long DEFAULT_LEASE_MS = 30_000;
        public static final long DEFAULT_MAX_DATASET_BYTES = 2L << 30;
        public static final int DEFAULT_MAX_EVENT_STREAMS_PER_TOKEN = 8;
        public static final int DEFAULT_JOB_NICE = io.dense4j.service.JobService.Settings.DEFAULT_JOB_NICE;
        /** A chunk of a job waits at most this long for the inference in flight to end (a 6 ms chunk: ~3% duty at worst). */
        public static final Duration DEFAULT_JOB_YIELD = Duration.ofMillis(200);
        public static final Duration MAX_JOB_YIELD = Duration.ofSeconds(10);
        /** The owner name recorded for callers holding the admin credentials. */
        public static final String ADMIN_NAME = io.dense4j.service.job.JobRunner.ADMIN_OWNER;

        public TrainingConfig {
            Objects.requireNonNull(state, "state");
            Objects.requireNonNull(lease, "lease");
            Map<String, String> t = new java.util.LinkedHashMap<>();
            for (Map.Entry<String, String> e : tokens.entrySet()) {
                String name = e.getKey();
                if (!name.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,63}") || name.equals(ADMIN_NAME)) {
                    throw new IllegalArgumentException("bad training token name '" + name + "': letters, digits, '.', "
                            + "'_' and '-', at most 64, and not '" + ADMIN_NAME + "'");
                }
                String token = checkToken(e.getValue(), "training token '" + name + "'");
                if (token == null) {
                    throw new IllegalArgumentException("the training token '" + name + "' is empty");
                }
                if (t.containsValue(token)) {
                    throw new IllegalArgumentException("two training tokens are equal: give each name its own token");
                }
                t.put(name, token);
            }
            tokens = java.util.Collections.unmodifiableMap(t);
            gpus = List.copyOf(gpus);
            if (cpus < 1) {
                throw new IllegalArgumentException("--cpus must be >= 1, got " + cpus);
            }
            if (maxRunningJobsPerToken < 1 || maxQueuedJobsPerToken < 1 || maxEventStreamsPerToken < 1) {
                throw new IllegalArgumentException("per-token limits must be >= 1");
            }
            if (lease.toMillis() < 1000) {
                throw new IllegalArgumentException("the job lease must be at least 1 s, got " + lease.toMillis() + " ms");
            }
            if (maxDatasetBytes < 1) {
                throw new IllegalArgumentException("the data set size limit must be positive");
            }
            if (storageQuotaBytes < 1) {
                throw new IllegalArgumentException("the storage quota per token must be positive, got " + storageQuotaBytes);
            }
            if (jobNice < 0 || jobNice > ThreadPriority.IDLE) {
                throw new IllegalArgumentException("the nice value of job threads is 0..19 or idle ("
                        + ThreadPriority.IDLE + "), got " + jobNice);
            }
            Objects.requireNonNull(checkpointInterval, "checkpointInterval");
            if (checkpointInterval.isNegative()
                    || checkpointInterval.compareTo(Duration.ofSeconds(JobSpec.MAX_CHECKPOINT_INTERVAL_SECONDS)) > 0) {
                throw new IllegalArgumentException("the checkpoint interval must be 0 (every epoch) to "
                        + JobSpec.MAX_CHECKPOINT_INTERVAL_SECONDS + " seconds, got " + checkpointInterval.toMillis() / 1000.0);
            }
            Objects.requireNonNull(jobYield, "jobYield");
            if (jobYield.isNegative() || jobYield.compareTo(MAX_JOB_YIELD) > 0) {
                throw new IllegalArgumentException("a job's wait for inference must be 0 (never) to "
                        + MAX_JOB_YIELD.toMillis() + " ms, got " + jobYield.toMillis() + " ms");
            }
            inferenceReserve = inferenceReserve == null ? DEFAULT_INFERENCE_RESERVE : inferenceReserve;
        }

        /** A builder with the defaults above for everything but the state store. */
        public static Builder builder(String state) {
            return new Builder(state);
        }

        /** Builder of a {@link TrainingConfig}. */
        public static final class Builder {
            private final String state;
            private Map<String, String> tokens = Map.of();
            private int cpus = Runtime.getRuntime().availableProcessors();
            private List<Integer> gpus = List.of();
            private String inferenceReserve = DEFAULT_INFERENCE_RESERVE;
            private int maxRunningJobsPerToken = DEFAULT_MAX_RUNNING_JOBS_PER_TOKEN;
            private int maxQueuedJobsPerToken = DEFAULT_MAX_QUEUED_JOBS_PER_TOKEN;
            private Path jobsDir;
            private Path datasetsDir;
            private String serverId;
            private Duration lease = Duration.ofMillis(DEFAULT_LEASE_MS);
            private long maxDatasetBytes = DEFAULT_MAX_DATASET_BYTES;
            private int maxEventStreamsPerToken = DEFAULT_MAX_EVENT_STREAMS_PER_TOKEN;
            private int jobNice = DEFAULT_JOB_NICE;
            private Duration checkpointInterval = CheckpointSchedule.DEFAULT_MIN_INTERVAL;
            private Duration jobYield = DEFAULT_JOB_YIELD;
            private long storageQuotaBytes = io.dense4j.service.StorageQuota.DEFAULT_BYTES;

            private Builder(String state) {
                this.state = state;
            }

            public Builder tokens(Map<String, String> v) { tokens = v; return this; }
            public Builder cpus(int v) { cpus = v; return this; }
            public Builder gpus(List<Integer> v) { gpus = v; return this; }
            public Builder inferenceReserve(String v) { inferenceReserve = v; return this; }
            public Builder maxRunningJobsPerToken(int v) { maxRunningJobsPerToken = v; return this; }
            public Builder maxQueuedJobsPerToken(int v) { maxQueuedJobsPerToken = v; return this; }
            public Builder jobsDir(Path v) { jobsDir = v; return this; }
            public Builder datasetsDir(Path v) { datasetsDir = v; return this; }
            public Builder serverId(String v) { serverId = v; return this; }
            public Builder lease(Duration v) { lease = v; return this; }
            public Builder maxDatasetBytes(long v) { maxDatasetBytes = v; return this; }
            public Builder maxEventStreamsPerToken(int v) { maxEventStreamsPerToken = v; return this; }
            public Builder jobNice(int v) { jobNice = v; return this; }
            public Builder checkpointInterval(Duration v) { checkpointInterval = v; return this; }
            public Builder jobYield(Duration v) { jobYield = v; return this; }
            public Builder storageQuotaBytes(long v) { storageQuotaBytes = v; return this; }

            public TrainingConfig build() {
                return new TrainingConfig(state, tokens, cpus, gpus, inferenceReserve, maxRunningJobsPerToken,
                        maxQueuedJobsPerToken, jobsDir, datasetsDir, serverId, lease, maxDatasetBytes,
                        maxEventStreamsPerToken, jobNice, checkpointInterval, jobYield, storageQuotaBytes);
            }
        }
    }

    /** Builder with the defaults above. */
    public static final class Builder {
        private final Path registry;
        private String host = DEFAULT_HOST;
        private int port = DEFAULT_PORT;
        private int healthPort = -1;
        private Device device = Device.cpu();
        private String inferenceToken;
        private String adminToken;
        private long maxRequestBytes = DEFAULT_MAX_REQUEST_BYTES;
        private long maxUploadBytes = DEFAULT_MAX_UPLOAD_BYTES;
        private int maxRequestRows = DEFAULT_MAX_REQUEST_ROWS;
        private long maxBufferedBodyBytes = DEFAULT_MAX_BUFFERED_BODY_BYTES;
        private BatchingConfig batching = BatchingConfig.defaults();
        private String defaultAlias = DEFAULT_ALIAS;
        private int latestVersions = DEFAULT_LATEST_VERSIONS;
        private Duration pollInterval = Duration.ofMillis(DEFAULT_POLL_MS);
        private boolean rejectNonFinite = true;
        private boolean accessLog = true;
        private Duration shutdownTimeout = Duration.ofSeconds(10);
        private ClientLimits clients = ClientLimits.defaults();
        private TlsConfig tls = TlsConfig.OFF;
        private TrainingConfig training;

        private Builder(Path registry) {
            this.registry = registry;
        }

        public Builder host(String v) { host = v; return this; }
        public Builder port(int v) { port = v; return this; }
        public Builder healthPort(int v) { healthPort = v; return this; }
        public Builder device(Device v) { device = v; return this; }
        public Builder inferenceToken(String v) { inferenceToken = v; return this; }
        public Builder adminToken(String v) { adminToken = v; return this; }
        public Builder maxRequestBytes(long v) { maxRequestBytes = v; return this; }
        public Builder maxUploadBytes(long v) { maxUploadBytes = v; return this; }
        public Builder maxRequestRows(int v) { maxRequestRows = v; return this; }
        public Builder maxBufferedBodyBytes(long v) { maxBufferedBodyBytes = v; return this; }
        public Builder batching(BatchingConfig v) { batching = v; return this; }
        public Builder defaultAlias(String v) { defaultAlias = v; return this; }
        public Builder latestVersions(int v) { latestVersions = v; return this; }
        public Builder pollInterval(Duration v) { pollInterval = v; return this; }
        public Builder rejectNonFinite(boolean v) { rejectNonFinite = v; return this; }
        public Builder accessLog(boolean v) { accessLog = v; return this; }
        public Builder shutdownTimeout(Duration v) { shutdownTimeout = v; return this; }
        public Builder clients(ClientLimits v) { clients = v; return this; }
        public Builder tls(TlsConfig v) { tls = v; return this; }
        public Builder training(TrainingConfig v) { training = v; return this; }

        public ServerConfig build() {
            return new ServerConfig(registry, host, port, healthPort, device, inferenceToken, adminToken,
                    maxRequestBytes, maxUploadBytes, maxRequestRows, maxBufferedBodyBytes, batching, defaultAlias, latestVersions,
                    pollInterval, rejectNonFinite, accessLog, shutdownTimeout, clients, tls, training);
        }
    }
}
