package io.dense4j.http;

import io.dense4j.tensor.Device;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * Settings of an {@link InferenceServer}. Every field has a sensible default; build with
 * {@link #builder(Path)}.
 *
 * @param registry           registry directory to serve
 * @param host               address to bind (loopback by default: exposing the server is a decision)
 * @param port               port, 0 for an ephemeral one
 * @param device             device models run on
 * @param inferenceToken     bearer token required for inference and metadata, or null for none
 * @param adminToken         bearer token required for management; null turns management off
 * @param maxRequestBytes    largest inference/metadata request body (larger: 413)
 * @param maxUploadBytes     largest model upload body (larger: 413)
 * @param batching           dynamic batching settings
 * @param defaultAlias       alias that requests without a version go to, when it exists
 * @param latestVersions     how many of the newest versions each model keeps loaded (Triton's "latest N")
 * @param pollInterval       how often the registry is re-read for changes made by other processes
 * @param rejectNonFinite    whether NaN and infinite inputs are refused with 400
 * @param accessLog          whether each request is logged (logger {@code dense4j.access})
 * @param shutdownTimeout    how long a graceful stop waits for requests in flight
 */
public record ServerConfig(
        Path registry,
        String host,
        int port,
        Device device,
        String inferenceToken,
        String adminToken,
        long maxRequestBytes,
        long maxUploadBytes,
        BatchingConfig batching,
        String defaultAlias,
        int latestVersions,
        Duration pollInterval,
        boolean rejectNonFinite,
        boolean accessLog,
        Duration shutdownTimeout) {

    public ServerConfig {
        Objects.requireNonNull(registry, "registry");
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(device, "device");
        Objects.requireNonNull(batching, "batching");
        Objects.requireNonNull(defaultAlias, "defaultAlias");
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be 0..65535, got " + port);
        }
        if (maxRequestBytes < 1 || maxUploadBytes < 1) {
            throw new IllegalArgumentException("request size limits must be positive");
        }
        if (latestVersions < 1) {
            throw new IllegalArgumentException("latestVersions must be at least 1");
        }
        inferenceToken = blankToNull(inferenceToken);
        adminToken = blankToNull(adminToken);
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s;
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
            return new BatchingConfig(true, 64, Duration.ZERO, 1024,
                    Math.max(1, Runtime.getRuntime().availableProcessors() / 2), Duration.ofSeconds(30));
        }

        public static BatchingConfig disabled() {
            BatchingConfig d = defaults();
            return new BatchingConfig(false, d.maxBatchSize, d.maxQueueDelay, d.queueCapacity, d.threads, d.timeout);
        }
    }

    /** Builder with defaults. */
    public static final class Builder {
        private final Path registry;
        private String host = "127.0.0.1";
        private int port = 8080;
        private Device device = Device.cpu();
        private String inferenceToken;
        private String adminToken;
        private long maxRequestBytes = 16L << 20;
        private long maxUploadBytes = 1L << 30;
        private BatchingConfig batching = BatchingConfig.defaults();
        private String defaultAlias = "stable";
        private int latestVersions = 1;
        private Duration pollInterval = Duration.ofSeconds(2);
        private boolean rejectNonFinite = true;
        private boolean accessLog = true;
        private Duration shutdownTimeout = Duration.ofSeconds(10);

        private Builder(Path registry) {
            this.registry = registry;
        }

        public Builder host(String v) { host = v; return this; }
        public Builder port(int v) { port = v; return this; }
        public Builder device(Device v) { device = v; return this; }
        public Builder inferenceToken(String v) { inferenceToken = v; return this; }
        public Builder adminToken(String v) { adminToken = v; return this; }
        public Builder maxRequestBytes(long v) { maxRequestBytes = v; return this; }
        public Builder maxUploadBytes(long v) { maxUploadBytes = v; return this; }
        public Builder batching(BatchingConfig v) { batching = v; return this; }
        public Builder defaultAlias(String v) { defaultAlias = v; return this; }
        public Builder latestVersions(int v) { latestVersions = v; return this; }
        public Builder pollInterval(Duration v) { pollInterval = v; return this; }
        public Builder rejectNonFinite(boolean v) { rejectNonFinite = v; return this; }
        public Builder accessLog(boolean v) { accessLog = v; return this; }
        public Builder shutdownTimeout(Duration v) { shutdownTimeout = v; return this; }

        public ServerConfig build() {
            return new ServerConfig(registry, host, port, device, inferenceToken, adminToken, maxRequestBytes,
                    maxUploadBytes, batching, defaultAlias, latestVersions, pollInterval, rejectNonFinite, accessLog,
                    shutdownTimeout);
        }
    }
}
