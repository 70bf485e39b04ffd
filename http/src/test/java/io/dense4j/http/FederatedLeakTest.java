package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import io.dense4j.federated.FederatedConfig;
import io.dense4j.federated.FederatedCoordinator;
import io.dense4j.federated.FederatedClient;
import io.dense4j.federated.LocalTrainer;
import io.dense4j.federated.ServerViewAttack;
import io.dense4j.federated.protocol.Message;
import io.dense4j.federated.protocol.MessageCodec;
import io.dense4j.federated.protocol.ServerConnection;
import io.dense4j.federated.protocol.TrainingPlan;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * With secure aggregation on, nothing the HTTP server saw, stored or logged gives away one party's update: the
 * federated core's reconstruction attack ({@link ServerViewAttack}) is run over every frame the server received and
 * sent, the coordinator's state after every submission, every row of the state store, every file under the
 * registry (each model version's weights, metadata, history) and everything the server logged (access log on). It
 * finds nothing closer to any party's update than the sum the server is meant to learn; with secure aggregation off
 * the same attack recovers every update, so it does look in the right places.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class FederatedLeakTest {
    @TempDir
    Path tmp;

    @Test
    void theServerKeepsNoIndividualUpdateWithSecureAggregationButDoesWithout() throws Exception {
        for (boolean secure : new boolean[] {true, false}) {
            Path dir = Files.createDirectories(tmp.resolve(secure ? "secure" : "plain"));
            Map<String, Double> best;
            Map<String, float[]> truth = new ConcurrentHashMap<>();
            ServerViewAttack attack = new ServerViewAttack();
            PrintStream err = System.err;
            ByteArrayOutputStream logged = new ByteArrayOutputStream();
            System.setErr(new PrintStream(new Tee(err, logged), true, StandardCharsets.UTF_8));
            int p;
            double bound;
            try (TrainingFixture f = new TrainingFixture(dir, t -> t, b -> b.accessLog(true));
                 FederatedFixture.Parties parties = new FederatedFixture.Parties()) {
                FederatedFixture.Task task = FederatedFixture.create(f, TrainingFixture.ADMIN, """
                        {"rounds": 1, "clients_per_round": 4, "min_clients": 3, "batch_size": 8, "secure_aggregation": %s,
                         "clip_norm": 5.0, "training_timeout_ms": 60000}""".formatted(secure), "[\"a\", \"b\", \"c\", \"d\"]",
                        model());
                FederatedConfig config = FederatedConfig.fromMap(io.dense4j.tune.Json.toMap(task.task().get("config")));
                TrainingPlan plan = config.plan();
                bound = plan.coordinateBound();
                FederatedCoordinator coordinator = f.server.federatedService().running(task.id()).coordinator();
                attack.watch(coordinator);
                List<Dataset> data = new ArrayList<>();
                String[] names = {"a", "b", "c", "d"};
                for (int i = 0; i < names.length; i++) {
                    data.add(skewed(60 + 7 * i, 40 + i, i));
                    ServerConnection http = FederatedFixture.connect(f.base, task.id(), task.token(names[i]));
                    String client = names[i];
                    // what crosses the wire, both ways, is what the server saw
                    ServerConnection seen = request -> {
                        Message.ServerMessage answer = http.exchange(request);
                        attack.exchanged(client, MessageCodec.encode(request), MessageCodec.encode(answer), null);
                        return answer;
                    };
                    parties.add(task.id(), names[i], data.get(i), seen, i);
                }
                parties.start(c -> {
                    boolean sent = c.lastStep() == FederatedClient.Step.INPUT_SENT
                            || c.lastStep() == FederatedClient.Step.UPDATE_SENT;
                    if (sent && c.round() == 1) {
                        LocalTrainer.Result r = c.lastTraining();
                        truth.put(c.clientId(), LocalTrainer.uploadVector(r.delta(), r.examples(), plan));
                    }
                    return false;
                });
                parties.join(Duration.ofSeconds(120));
                assertTrue(parties.failures.isEmpty(), () -> "client failures: " + parties.failures);
                JsonNode status = FederatedFixture.status(f, TrainingFixture.ADMIN, task.id());
                assertEquals("COMPLETED", status.at("/history/0/status").asText(), status.toString());
                assertEquals(4, status.at("/history/0/participants").asInt());
                p = coordinator.weights().length;
                data.forEach(Dataset::close);
            } finally {
                System.setErr(err);
            }
            // everything the server stored: the state store's rows, every file under its registry
            int rows = storeRows(dir.resolve("state.db"), attack);
            int files = registryFiles(dir.resolve("registry"), attack);
            int lines = 0;
            for (String line : logged.toString(StandardCharsets.UTF_8).split("\n")) {
                attack.addLogLine(line);
                lines++;
            }
            best = attack.attack(truth, p, bound);
            attack.stop();
            System.out.println("reconstruction attack over HTTP, secure aggregation " + (secure ? "on" : "off")
                    + ": best cosine per client " + best + " (" + attack.messagesSeen() + " frames, " + attack.statesSeen()
                    + " states incl. " + rows + " store rows and " + files + " registry files, " + lines + " log lines)");
            assertEquals(4, truth.size());
            assertTrue(rows > 0 && files > 0 && lines > 0, "the attack saw the store, the registry and the logs");
            double[] sum = new double[p];
            for (float[] v : truth.values()) {
                for (int i = 0; i < p; i++) {
                    sum[i] += v[i];
                }
            }
            for (Map.Entry<String, Double> e : best.entrySet()) {
                if (secure) {
                    double bySum = Math.abs(ServerViewAttack.cosine(sum, truth.get(e.getKey()), p)); // the attack scores |cosine|
                    assertTrue(e.getValue() <= bySum + 0.01, e.getKey() + ": best cosine " + e.getValue()
                            + " beats the sum's " + bySum);
                    assertTrue(e.getValue() < 0.98, e.getKey() + "'s update was recovered: cosine " + e.getValue());
                } else {
                    assertTrue(e.getValue() > 0.999, e.getKey() + "'s plain update was not found: " + e.getValue());
                }
            }
        }
    }

    /**
     * The fixture's model with a 1024-unit hidden layer (20,483 parameters): in a space that large, vectors the server
     * sees by chance are nearly orthogonal to any update (cosine ~0.007), so a high cosine means information.
     */
    private static JsonNode model() {
        com.fasterxml.jackson.databind.node.ObjectNode m = FederatedFixture.modelConfig();
        ((com.fasterxml.jackson.databind.node.ObjectNode) m.at("/layers/0")).put("units", 1024);
        return m;
    }

    /**
     * Non-IID rows, as parties' data usually is: party k's rows are mostly of class k (k < 3; the fourth party's are
     * mixed), so the parties' updates differ and the sum is not already close to each of them.
     */
    private static Dataset skewed(int rows, long seed, int party) {
        int[] labels = new int[rows * 6];
        int[][] pool = FederatedFixture.pixels(labels.length, seed, labels);
        float[][] x = new float[rows][];
        int[] y = new int[rows];
        int n = 0;
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        for (int i = 0; i < pool.length && n < rows; i++) {
            boolean keep = party >= 3 || labels[i] == party || r.nextDouble() < 0.1;
            if (keep) {
                x[n] = new float[FederatedFixture.FEATURES];
                for (int j = 0; j < x[n].length; j++) {
                    x[n][j] = pool[i][j] / 255f;
                }
                y[n++] = labels[i];
            }
        }
        return Dataset.of(java.util.Arrays.copyOf(x, n), java.util.Arrays.copyOf(y, n));
    }

    /** Every row of every table, each text column read as JSON where it is JSON (numeric lists as arrays). */
    private static int storeRows(Path db, ServerViewAttack attack) throws Exception {
        int n = 0;
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db);
             Statement st = c.createStatement()) {
            List<String> tables = new ArrayList<>();
            try (ResultSet rs = st.executeQuery("SELECT name FROM sqlite_master WHERE type = 'table'")) {
                while (rs.next()) {
                    tables.add(rs.getString(1));
                }
            }
            for (String t : tables) {
                try (ResultSet rs = st.executeQuery("SELECT * FROM \"" + t + "\"")) {
                    ResultSetMetaData md = rs.getMetaData();
                    while (rs.next()) {
                        Map<String, Object> row = new LinkedHashMap<>();
                        for (int i = 1; i <= md.getColumnCount(); i++) {
                            Object v = rs.getObject(i);
                            row.put(md.getColumnName(i), v instanceof String s ? plain(s) : v);
                        }
                        attack.addStoredState(row);
                        n++;
                    }
                }
            }
        }
        return n;
    }

    /** Every file under the registry: model files as their weights, JSON as its values, anything else as text. */
    private static int registryFiles(Path root, ServerViewAttack attack) throws Exception {
        List<Path> all;
        try (Stream<Path> s = Files.walk(root)) {
            all = s.filter(Files::isRegularFile).toList();
        }
        for (Path file : all) {
            Map<String, Object> state = new LinkedHashMap<>();
            if (file.toString().endsWith(".d4j")) {
                try (Sequential m = Sequential.load(file)) {
                    state.put("weights", m.parameters());
                    state.put("training", m.trainingInfo());
                }
            } else {
                state.put("content", plain(Files.readString(file, StandardCharsets.ISO_8859_1)));
            }
            attack.addStoredState(state);
        }
        return all.size();
    }

    /** JSON text as plain values with numeric lists as double arrays (the attack reads arrays); other text as is. */
    private static Object plain(String text) {
        try {
            return arrays(FederatedFixture.JSON.readValue(text, Object.class));
        } catch (Exception e) {
            return text;
        }
    }

    private static Object arrays(Object o) {
        if (o instanceof Map<?, ?> m) {
            Map<String, Object> out = new LinkedHashMap<>();
            m.forEach((k, v) -> out.put(String.valueOf(k), arrays(v)));
            return out;
        }
        if (o instanceof List<?> l) {
            if (!l.isEmpty() && l.stream().allMatch(x -> x instanceof Number)) {
                return l.stream().mapToDouble(x -> ((Number) x).doubleValue()).toArray();
            }
            List<Object> out = new ArrayList<>();
            l.forEach(x -> out.add(arrays(x)));
            return out;
        }
        return o;
    }

    /** Writes to two streams. */
    private static final class Tee extends OutputStream {
        private final OutputStream a;
        private final OutputStream b;

        Tee(OutputStream a, OutputStream b) {
            this.a = a;
            this.b = b;
        }

        @Override
        public synchronized void write(int c) throws java.io.IOException {
            a.write(c);
            b.write(c);
        }

        @Override
        public synchronized void write(byte[] buf, int off, int len) throws java.io.IOException {
            a.write(buf, off, len);
            b.write(buf, off, len);
        }
    }
}
