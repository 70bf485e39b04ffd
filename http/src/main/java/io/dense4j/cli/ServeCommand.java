package io.dense4j.cli;

import io.dense4j.http.InferenceServer;
import io.dense4j.http.ServerConfig;
import io.dense4j.tensor.Device;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;

/** {@code dense4j serve}: serves every model of a registry over HTTP until stopped (SIGTERM, Ctrl-C). */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve every model of a registry: KServe V2 and TF Serving REST, management API, /metrics.")
public final class ServeCommand implements Callable<Integer> {
    private static volatile boolean serving;

    @Option(names = "--registry", required = true, description = "registry directory")
    Path registry;

    @Option(names = "--port", defaultValue = "8080", description = "port (default ${DEFAULT-VALUE}; 0 picks a free one)")
    int port;

    @Option(names = "--host", defaultValue = "127.0.0.1",
            description = "address to bind (default ${DEFAULT-VALUE}; 0.0.0.0 for every interface)")
    String host;

    @Option(names = "--device", defaultValue = "cpu",
            description = "cpu or cuda[:N]: where every loaded model runs (default ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--token", defaultValue = "${env:DENSE4J_TOKEN}",
            description = "bearer token required for inference (default: $DENSE4J_TOKEN; none: open)")
    String token;

    @Option(names = "--admin-token", defaultValue = "${env:DENSE4J_ADMIN_TOKEN}",
            description = "bearer token for the management API (default: $DENSE4J_ADMIN_TOKEN; none: management off)")
    String adminToken;

    @Option(names = "--max-request-bytes", defaultValue = "16777216", description = "largest request body (default ${DEFAULT-VALUE})")
    long maxRequestBytes;

    @Option(names = "--no-batching", description = "turn dynamic batching off")
    boolean noBatching;

    @Option(names = "--max-batch-size", defaultValue = "64", description = "most rows per batch (default ${DEFAULT-VALUE})")
    int maxBatchSize;

    @Option(names = "--max-queue-delay-us", defaultValue = "0",
            description = "how long a batch waits for more requests, microseconds (default ${DEFAULT-VALUE})")
    long maxQueueDelayUs;

    @Option(names = "--queue-capacity", defaultValue = "1024", description = "requests queued per version before 503 (default ${DEFAULT-VALUE})")
    int queueCapacity;

    @Option(names = "--batch-threads", description = "batches of one version that may run at once (default: half the cores)")
    Integer batchThreads;

    @Option(names = "--default-alias", defaultValue = "stable", description = "alias used when a request names no version (default ${DEFAULT-VALUE})")
    String defaultAlias;

    @Option(names = "--latest-versions", defaultValue = "1", description = "newest versions kept loaded per model (default ${DEFAULT-VALUE})")
    int latestVersions;

    @Option(names = "--poll-ms", defaultValue = "2000", description = "registry re-read interval (default ${DEFAULT-VALUE})")
    long pollMs;

    @Option(names = "--allow-non-finite", description = "accept NaN and infinite inputs instead of answering 400")
    boolean allowNonFinite;

    @Option(names = "--no-access-log", description = "do not log every request")
    boolean noAccessLog;

    static boolean isServing() {
        return serving;
    }

    @Override
    public Integer call() throws Exception {
        ServerConfig.BatchingConfig d = ServerConfig.BatchingConfig.defaults();
        ServerConfig.BatchingConfig batching = new ServerConfig.BatchingConfig(!noBatching, maxBatchSize,
                Duration.ofNanos(maxQueueDelayUs * 1000), queueCapacity, batchThreads == null ? d.threads() : batchThreads,
                d.timeout());
        ServerConfig cfg = ServerConfig.builder(registry).host(host).port(port).device(Device.parse(device))
                .inferenceToken(token).adminToken(adminToken).maxRequestBytes(maxRequestBytes).batching(batching)
                .defaultAlias(defaultAlias).latestVersions(latestVersions).pollInterval(Duration.ofMillis(pollMs))
                .rejectNonFinite(!allowNonFinite).accessLog(!noAccessLog).build();
        InferenceServer server = InferenceServer.start(cfg);
        serving = true;
        Runtime.getRuntime().addShutdownHook(new Thread(server::close, "graceful-shutdown"));
        System.out.println("dense4j serving " + registry + " on http://" + host + ":" + server.port()
                + "  (OpenAPI: /openapi.json, metrics: /metrics)");
        server.awaitShutdown();
        return 0;
    }
}
