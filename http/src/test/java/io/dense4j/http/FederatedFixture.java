package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.data.Dataset;
import io.dense4j.federated.FederatedClient;
import io.dense4j.federated.HttpServerConnection;
import io.dense4j.federated.protocol.ProtocolException;
import io.dense4j.federated.protocol.ServerConnection;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Federated tasks for the server tests: a small learnable problem (4x4 "images", 3 classes, a 16-16-3 network), each
 * party's rows drawn from it (as a {@link Dataset}, a CSV file or an MNIST-layout IDX directory: the three give the
 * same features), task creation through the admin API and client threads driving {@link FederatedClient}s over HTTP.
 */
final class FederatedFixture {
    static final int SIDE = 4;
    static final int FEATURES = SIDE * SIDE;
    static final int CLASSES = 3;
    static final ObjectMapper JSON = new ObjectMapper();

    private FederatedFixture() {}

    /** The task's model config: 16-16 relu-3 softmax, SGD 0.1 (the clients' local optimizer), sparse CE. */
    static ObjectNode modelConfig() {
        try {
            return (ObjectNode) JSON.readTree("""
                    {"class_name": "Sequential", "config_version": 2,
                     "layers": [{"type": "dense", "units": 16, "activation": "relu", "input_dim": 16},
                                {"type": "dense", "units": 3, "activation": "softmax"}],
                     "compile_config": {"optimizer": {"type": "sgd", "learning_rate": 0.1},
                                        "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}}""");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Rows of the shared problem as pixel bytes: Gaussian latent values g, pixel = 128 + 40 g (clamped), the class
     * from two linear rules on g. Distinct seeds, distinct rows.
     */
    static int[][] pixels(int rows, long seed, int[] labels) {
        SplittableRandom r = new SplittableRandom(seed);
        int[][] x = new int[rows][FEATURES];
        for (int i = 0; i < rows; i++) {
            double[] g = new double[FEATURES];
            for (int j = 0; j < FEATURES; j++) {
                g[j] = r.nextGaussian();
                x[i][j] = (int) Math.max(0, Math.min(255, Math.round(128 + 40 * g[j])));
            }
            labels[i] = (g[0] + 0.5 * g[1] > 0.3 ? 1 : 0) + (g[2] - g[3] > 1 ? 1 : 0);
        }
        return x;
    }

    /** The rows in [0, 1], as the IDX loader reads pixels. */
    static Dataset data(int rows, long seed) {
        int[] y = new int[rows];
        int[][] p = pixels(rows, seed, y);
        float[][] x = new float[rows][FEATURES];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < FEATURES; j++) {
                x[i][j] = p[i][j] / 255f;
            }
        }
        return Dataset.of(x, y);
    }

    /** The same rows as {@link #data} as a CSV file (header p0..p15,label), what a party keeps on its disk. */
    static Path csv(Path file, int rows, long seed) throws IOException {
        int[] y = new int[rows];
        int[][] p = pixels(rows, seed, y);
        StringBuilder sb = new StringBuilder();
        for (int j = 0; j < FEATURES; j++) {
            sb.append('p').append(j).append(',');
        }
        sb.append("label\n");
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < FEATURES; j++) {
                sb.append(String.format(Locale.ROOT, "%.8f", p[i][j] / 255f)).append(',');
            }
            sb.append(y[i]).append('\n');
        }
        Files.writeString(file, sb.toString());
        return file;
    }

    /** The same rows as an MNIST-layout directory (train-images-idx3-ubyte and train-labels-idx1-ubyte, raw). */
    static Path idx(Path dir, int rows, long seed) throws IOException {
        int[] y = new int[rows];
        int[][] p = pixels(rows, seed, y);
        Files.createDirectories(dir);
        java.io.ByteArrayOutputStream images = new java.io.ByteArrayOutputStream();
        java.io.DataOutputStream im = new java.io.DataOutputStream(images);
        im.writeInt(0x00000803);
        im.writeInt(rows);
        im.writeInt(SIDE);
        im.writeInt(SIDE);
        java.io.ByteArrayOutputStream labels = new java.io.ByteArrayOutputStream();
        java.io.DataOutputStream lb = new java.io.DataOutputStream(labels);
        lb.writeInt(0x00000801);
        lb.writeInt(rows);
        for (int i = 0; i < rows; i++) {
            for (int v : p[i]) {
                im.writeByte(v);
            }
            lb.writeByte(y[i]);
        }
        Files.write(dir.resolve("train-images-idx3-ubyte"), images.toByteArray());
        Files.write(dir.resolve("train-labels-idx1-ubyte"), labels.toByteArray());
        return dir;
    }

    /** A created task: its id and each client's token. */
    record Task(long id, Map<String, String> tokens, JsonNode task) {
        String token(String client) {
            return tokens.get(client);
        }
    }

    /** POST /admin/federated/tasks with these federated settings and clients; asserts 201. */
    static Task create(TrainingClient server, String adminToken, String federatedJson, String clients) {
        return create(server, adminToken, federatedJson, clients, modelConfig());
    }

    static Task create(TrainingClient server, String adminToken, String federatedJson, String clients, JsonNode model) {
        String body = "{\"name\": \"test task\", \"model\": " + model + ", \"federated\": " + federatedJson
                + ", \"clients\": " + clients + ", \"initial\": {\"seed\": 3}}";
        var r = server.post("/admin/federated/tasks", adminToken, "application/json", body);
        assertEquals(201, r.statusCode(), r.body());
        JsonNode n = TrainingClient.json(r);
        Map<String, String> tokens = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = n.get("client_tokens").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            tokens.put(e.getKey(), e.getValue().asText());
        }
        return new Task(n.at("/task/id").asLong(), tokens, n.get("task"));
    }

    static HttpServerConnection connect(String base, long task, String token) {
        return HttpServerConnection.builder(base, Long.toString(task), token).retryFor(Duration.ofSeconds(60)).build();
    }

    /** The admin's view of a task (with its round history). */
    static JsonNode status(TrainingClient server, String adminToken, long task) {
        var r = server.get("/admin/federated/tasks/" + task, adminToken);
        assertEquals(200, r.statusCode(), r.body());
        return TrainingClient.json(r);
    }

    /**
     * Clients stepping in their own threads (as separate parties do), each until the task finishes or
     * {@code stop} says so after one of its steps.
     */
    static final class Parties implements AutoCloseable {
        final List<FederatedClient> clients = new ArrayList<>();
        final List<Thread> threads = new ArrayList<>();
        final List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());

        FederatedClient add(long task, String client, Dataset data, ServerConnection connection, long seed) {
            FederatedClient c = FederatedClient.builder(Long.toString(task), client, data, connection).seed(seed).build();
            clients.add(c);
            return c;
        }

        /** Starts every client; {@code stop} (may be null) is asked after each step whether that client leaves. */
        void start(Predicate<FederatedClient> stop) {
            for (FederatedClient c : clients) {
                Thread t = new Thread(() -> {
                    try {
                        while (true) {
                            FederatedClient.Step s;
                            try {
                                s = c.step();
                            } catch (ProtocolException e) {
                                s = FederatedClient.Step.ROUND_OVER;
                            }
                            if (s == FederatedClient.Step.FINISHED || (stop != null && stop.test(c))) {
                                return;
                            }
                            if (s == FederatedClient.Step.WAITING || s == FederatedClient.Step.NOT_SELECTED
                                    || s == FederatedClient.Step.ROUND_OVER) {
                                Thread.sleep(200);
                            }
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                }, "party-" + c.clientId());
                t.setDaemon(true);
                threads.add(t);
                t.start();
            }
        }

        /** Waits for every client thread to end. */
        void join(Duration max) throws InterruptedException {
            long deadline = System.nanoTime() + max.toNanos();
            for (Thread t : threads) {
                t.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
            }
        }

        @Override
        public void close() throws InterruptedException {
            for (Thread t : threads) {
                t.interrupt();
            }
            for (Thread t : threads) {
                t.join(5000);
            }
            clients.forEach(FederatedClient::close);
        }
    }
}
