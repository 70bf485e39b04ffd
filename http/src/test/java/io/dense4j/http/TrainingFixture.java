package io.dense4j.http;

import io.dense4j.registry.ModelRegistry;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * A server with the training service on an empty registry: training tokens {@code alice}, {@code bob} and
 * {@code carol}, an admin token and an inference token; SQLite state; 3 cpus with 1 kept for inference.
 */
public final class TrainingFixture extends TrainingClient implements AutoCloseable {
    public static final String ALICE = "alice-token";
    public static final String BOB = "bob-token";
    public static final String CAROL = "carol-token";
    public static final String ADMIN = "admin-token";
    public static final String INFERENCE = "inference-token";

    public final Path dir;
    public final ModelRegistry registry;
    public final InferenceServer server;

    public TrainingFixture(Path dir, UnaryOperator<ServerConfig.TrainingConfig.Builder> tweak) {
        this(dir, tweak, b -> b);
    }

    /** @param server changes to the server's settings (TLS, port...) */
    public TrainingFixture(Path dir, UnaryOperator<ServerConfig.TrainingConfig.Builder> tweak,
                           UnaryOperator<ServerConfig.Builder> server) {
        super(null);
        this.dir = dir;
        this.registry = ModelRegistry.open(dir.resolve("registry"));
        ServerConfig.TrainingConfig.Builder t = ServerConfig.TrainingConfig.builder(dir.resolve("state.db").toString())
                .tokens(Map.of("alice", ALICE, "bob", BOB, "carol", CAROL)).cpus(3).inferenceReserve("1")
                .lease(Duration.ofSeconds(5)).maxDatasetBytes(4 << 20).serverId("test-server");
        ServerConfig cfg = server.apply(ServerConfig.builder(registry.root()).host("127.0.0.1").port(0)
                .pollInterval(Duration.ofMillis(200)).accessLog(false).adminToken(ADMIN).inferenceToken(INFERENCE)
                .training(tweak.apply(t).build())).build();
        this.server = InferenceServer.start(cfg);
        this.base = (cfg.tls().enabled() ? "https" : "http") + "://127.0.0.1:" + this.server.port();
    }

    @Override
    public void close() {
        server.close();
    }
}
