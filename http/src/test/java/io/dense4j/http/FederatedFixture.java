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
 * Federated tasks for the server tests: a small learnable problem (12 features, 3 classes, a 12-16-3 network), each
 * party's rows drawn from it (as a {@link Dataset} or a CSV file), task creation through the admin API and client
 * threads driving {@link FederatedClient}s over HTTP.
 */
final class FederatedFixture {
    static final int FEATURES = 12;
    static final int CLASSES = 3;
    static final ObjectMapper JSON = new ObjectMapper();

    private FederatedFixture() {}

    /** The task's model config: 12-16 relu-3 softmax, SGD 0.1 (the clients' local optimizer), sparse CE. */
    static ObjectNode modelConfig() {
        try {
            return (ObjectNode) JSON.readTree("""
                    {"class_name": "Sequential", "config_version": 2,
                     "layers": [{"type": "dense", "units": 16, "activation": "relu", "input_dim": 12},
                                {"type": "dense", "units": 3, "activation": "softmax"}],
                     "compile_config": {"optimizer": {"type": "sgd", "learning_rate": 0.1},
                                        "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}}""");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Rows of the shared problem: Gaussian features, a class from two linear rules. Distinct seeds, distinct rows. */
    static float[][] features(int rows, long seed, int[] labels) {
        SplittableRandom r = new SplittableRandom(seed);
        float[][] x = new float[rows][FEATURES];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < FEATURES; j++) {
                x[i][j] = (float) r.nextGaussian();
            }
            labels[i] = (x[i][0] + 0.5 * x[i][1] > 0.3 ? 1 : 0) + (x[i][2] - x[i][3] > 1 ? 1 : 0);
        }
        return x;
    }

    static Dataset data(int rows, long seed) {
        int[] y = new int[rows];
        float[][] x = features(rows, seed, y);
        return Dataset.of(x, y);
    }

    /** The same rows as {@link #data} as a CSV file (header f0..f11,label), what a party keeps on its disk. */
    static Path csv(Path file, int rows, long seed) throws IOException {
        int[] y = new int[rows];
        float[][] x = features(rows, seed, y);
        StringBuilder sb = new StringBuilder();
        for (int j = 0; j < FEATURES; j++) {
            sb.append('f').append(j).append(',');
        }
        sb.append("label\n");
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < FEATURES; j++) {
                sb.append(String.format(Locale.ROOT, "%.6f", x[i][j])).append(',');
            }
            sb.append(y[i]).append('\n');
        }
        Files.writeString(file, sb.toString());
        return file;
    }

    /** A created task: its id and each client's token. */
    record Task(long id, Map<String, String> tokens, JsonNode task) {
        String token(String client) {
            return tokens.get(client);
        }
    }

    /** POST /admin/federated/tasks with these federated settings and clients; asserts 201. */
    static Task create(TrainingClient server, String adminToken, String federatedJson, String clients) {
        String body = "{\"name\": \"test task\", \"model\": " + modelConfig() + ", \"federated\": " + federatedJson
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
