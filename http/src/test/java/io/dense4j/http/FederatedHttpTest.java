package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.dense4j.Sequential;
import io.dense4j.data.Dataset;
import io.dense4j.federated.FederatedClient;
import io.dense4j.federated.FederatedConfig;
import io.dense4j.federated.HttpServerConnection;
import io.dense4j.federated.LocalTrainer;
import io.dense4j.federated.protocol.Message;
import io.dense4j.federated.protocol.MessageCodec;
import io.dense4j.federated.protocol.ProtocolException;
import io.dense4j.federated.protocol.TrainingPlan;
import io.dense4j.federated.secagg.Quantizer;
import io.dense4j.registry.ModelVersionInfo;
import io.dense4j.service.federated.FederatedService;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Federated learning over the server's HTTP API, clients in this JVM on loopback: a secure-aggregation task with a
 * client dropping out after masking, its rounds as registry versions and store rows; and hostile requests
 * (replayed, forged, oversized, malformed, wrong role, wrong task, too many) refused with clear errors while the
 * coordinator's state stays exactly as it was.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class FederatedHttpTest {
    @TempDir
    Path tmp;

    @Test
    void secureAggregationOverHttpCompletesRoundsDespiteADropoutAfterMasking() throws Exception {
        try (TrainingFixture f = new TrainingFixture(tmp, t -> t);
             FederatedFixture.Parties parties = new FederatedFixture.Parties()) {
            FederatedFixture.Task task = FederatedFixture.create(f, TrainingFixture.ADMIN, """
                    {"rounds": 2, "clients_per_round": 4, "min_clients": 3, "batch_size": 16, "secure_aggregation": true,
                     "clip_norm": 5.0, "phase_timeout_ms": 2500, "training_timeout_ms": 30000}""",
                    "[\"a\", \"b\", \"c\", \"d\"]");
            FederatedConfig config = FederatedConfig.fromMap(io.dense4j.tune.Json.toMap(task.task().get("config")));
            int[] sizes = {40, 57, 33, 61};
            String[] names = {"a", "b", "c", "d"};
            List<Dataset> data = new ArrayList<>();
            Map<String, float[]> roundOneUploads = new ConcurrentHashMap<>();
            for (int i = 0; i < names.length; i++) {
                data.add(FederatedFixture.data(sizes[i], 100 + i));
                HttpServerConnection conn = FederatedFixture.connect(f.base, task.id(), task.token(names[i]));
                assertEquals(names[i], conn.clientId(), "the server names the client its token speaks for");
                parties.add(task.id(), names[i], data.get(i), conn, i);
            }
            TrainingPlan plan = config.plan();
            // d disappears right after sending its masked input in round 1: the others' unmasking shares must still
            // remove its masks, and its input stays in the sum
            parties.start(c -> {
                if (c.round() == 1 && c.lastStep() == FederatedClient.Step.INPUT_SENT) {
                    LocalTrainer.Result r = c.lastTraining();
                    roundOneUploads.put(c.clientId(), LocalTrainer.uploadVector(r.delta(), r.examples(), plan));
                }
                return c.clientId().equals("d") && c.lastStep() == FederatedClient.Step.INPUT_SENT;
            });
            parties.join(Duration.ofSeconds(150));
            assertTrue(parties.failures.isEmpty(), () -> "client failures: " + parties.failures);

            JsonNode status = FederatedFixture.status(f, TrainingFixture.ADMIN, task.id());
            assertEquals("finished", status.get("state").asText(), status.toString());
            assertEquals(2, status.get("rounds_run").asInt());
            JsonNode r1 = status.at("/history/0");
            JsonNode r2 = status.at("/history/1");
            assertEquals("COMPLETED", r1.get("status").asText(), r1.toString());
            assertEquals(4, r1.get("participants").asInt(), "d's masked input is in round 1's sum");
            assertEquals("[4,4,4,3]", r1.get("secagg_sets").toString(), "3 of 4 answered the unmasking request");
            assertEquals("COMPLETED", r2.get("status").asText(), r2.toString());
            assertEquals(3, r2.get("participants").asInt(), "round 2 went on without d");
            assertTrue(r1.get("bytes_up").asLong() > 0 && r1.get("bytes_down").asLong() > 0);

            // every round's global model is a registry version with its lineage; the aggregate is the weighted mean
            String model = status.get("register_as").asText();
            List<ModelVersionInfo> versions = f.registry.versions(model);
            assertEquals(3, versions.size(), "round 0 (initial), 1 and 2");
            assertEquals("federated:" + task.id() + "/round/1", versions.get(1).source());
            assertEquals(4.0, versions.get(1).metrics().get("participants"));
            float[] before;
            float[] after;
            try (Sequential v1 = Sequential.load(f.registry.modelFile(model, 1));
                 Sequential v2 = Sequential.load(f.registry.modelFile(model, 2))) {
                before = v1.parameters();
                after = v2.parameters();
                Map<?, ?> lineage = (Map<?, ?>) v2.trainingInfo().get("lineage");
                assertEquals(1, ((Number) lineage.get("round")).intValue());
                assertEquals(1, ((Number) lineage.get("parent_version")).intValue());
                assertEquals(4, ((Number) ((Map<?, ?>) lineage.get("summary")).get("participants")).intValue());
            }
            assertEquals(4, roundOneUploads.size());
            int p = before.length;
            double[] sum = new double[p + 1];
            for (float[] v : roundOneUploads.values()) {
                for (int i = 0; i <= p; i++) {
                    sum[i] += v[i];
                }
            }
            double tolerance = 4 / Quantizer.scale(5.0, 4) / sum[p] + 1e-6;
            double worst = 0;
            double moved = 0;
            for (int i = 0; i < p; i++) {
                worst = Math.max(worst, Math.abs(after[i] - (before[i] + sum[i] / sum[p])));
                moved += Math.pow(after[i] - before[i], 2);
            }
            assertTrue(worst <= tolerance, "the round-1 model deviates from the weighted mean by " + worst);
            assertTrue(Math.sqrt(moved) > 1e-3, "the round changed the model");
            data.forEach(Dataset::close);
        }
    }

    @Test
    void hostileRequestsAreRefusedClearlyAndChangeNothing() throws Exception {
        try (TrainingFixture f = new TrainingFixture(tmp, t -> t)) {
            FederatedFixture.Task task = FederatedFixture.create(f, TrainingFixture.ADMIN, """
                    {"rounds": 3, "clients_per_round": 3, "min_clients": 2, "batch_size": 16,
                     "training_timeout_ms": 60000}""", "[\"a\", \"b\", \"c\"]");
            FederatedFixture.Task other = FederatedFixture.create(f, TrainingFixture.ADMIN,
                    "{\"rounds\": 1, \"clients_per_round\": 2}", "2");
            FederatedService service = f.server.federatedService();
            var coordinator = service.running(task.id()).coordinator();
            String path = "/v1/federated/tasks/" + task.id() + "/messages";
            String tokenA = task.token("a");
            HttpServerConnection a = FederatedFixture.connect(f.base, task.id(), tokenA);
            String id = Long.toString(task.id());

            Message.RoundTask rt = assertInstanceOf(Message.RoundTask.class,
                    a.exchange(new Message.Poll(envelope(id, "a", -1, new byte[0]))));
            assertEquals(1, rt.round());
            float[] vector = new float[rt.weights().length + 1];
            vector[0] = 0.01f;
            vector[vector.length - 1] = 0.5f; // the example weight
            byte[] update = MessageCodec.encode(new Message.Update(envelope(id, "a", 1, rt.roundNonce()), vector));
            HttpResponse<byte[]> accepted = postFrame(f, path, tokenA, update);
            assertEquals(200, accepted.statusCode());
            assertInstanceOf(Message.Accepted.class, MessageCodec.decode(accepted.body(),
                    io.dense4j.federated.protocol.Limits.DEFAULT));
            String state = snapshot(coordinator);

            // a retry of the delivered message (same message id) is acknowledged and changes nothing
            assertEquals(200, postFrame(f, path, tokenA, update).statusCode());
            assertEquals(state, snapshot(coordinator));
            // a replay with a fresh message id: 409 DUPLICATE
            byte[] replay = MessageCodec.encode(new Message.Update(envelope(id, "a", 1, rt.roundNonce()), vector));
            refused(f, path, tokenA, replay, 409, "DUPLICATE", "already sent its update");
            assertEquals(state, snapshot(coordinator));
            // forged: a's token speaking for b
            byte[] forged = MessageCodec.encode(new Message.Update(envelope(id, "b", 1, rt.roundNonce()), vector));
            refused(f, path, tokenA, forged, 403, "FORBIDDEN", "names client b but comes from a");
            // a wrong round nonce
            byte[] badNonce = MessageCodec.encode(new Message.Update(envelope(id, "a", 1, new byte[16]), vector));
            refused(f, path, tokenA, badNonce, 403, "FORBIDDEN", "nonce");
            // malformed frames
            refused(f, path, tokenA, "{\"type\": \"poll\"}".getBytes(), 400, "BAD_MESSAGE", "bad magic");
            byte[] truncated = java.util.Arrays.copyOf(update, update.length - 5);
            refused(f, path, tokenA, truncated, 400, "BAD_MESSAGE", "bytes follow");
            // a server-to-client message type
            refused(f, path, tokenA, MessageCodec.encode(new Message.Finished(id, 1, "x")), 400, "BAD_MESSAGE",
                    "goes from server to client");
            // a message naming another task in the frame (the path's task is the token's)
            byte[] otherTask = MessageCodec.encode(new Message.Poll(envelope(Long.toString(other.id()), "a", 1,
                    rt.roundNonce())));
            refused(f, path, tokenA, otherTask, 404, "NOT_FOUND", "message for task " + other.id());
            assertEquals(state, snapshot(coordinator));

            // oversized: refused from Content-Length before the handler reads the body (of the 4 MiB declared, only
            // what Jetty buffers before it hands the request over, 256 KiB, is ever sent)
            long limit = service.running(task.id()).maxRequestBytes();
            try (RawHttp raw = new RawHttp(f.server.port())) {
                raw.write("POST " + path + " HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + tokenA
                        + "\r\nContent-Type: application/octet-stream\r\nContent-Length: " + (4L << 20) + "\r\n\r\n");
                raw.socket.getOutputStream().write(new byte[300 << 10]);
                RawHttp.Response r = raw.read();
                assertEquals(413, r.status(), r.body());
                assertTrue(r.headers().contains(HttpServerConnection.ERROR_CODE_HEADER + ": TOO_LARGE"), r.headers());
                assertTrue(r.body().contains("limit of " + limit + " bytes"), r.body());
            }
            // and a body sent without Content-Length (chunked) is cut at the limit
            HttpRequest chunked = HttpRequest.newBuilder(URI.create(f.base + path))
                    .header("Authorization", "Bearer " + tokenA)
                    .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream(
                            new byte[(int) limit + 1000]))).build();
            HttpResponse<String> big = f.send(chunked);
            assertEquals(413, big.statusCode(), big.body());
            assertEquals(state, snapshot(coordinator));

            // wrong task: a's token on the other task's route, refused before the body is read
            String otherPath = "/v1/federated/tasks/" + other.id() + "/messages";
            try (RawHttp raw = new RawHttp(f.server.port())) {
                raw.write("POST " + otherPath + " HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + tokenA
                        + "\r\nContent-Length: " + (4L << 20) + "\r\n\r\n");
                raw.socket.getOutputStream().write(new byte[300 << 10]);
                RawHttp.Response r = raw.read();
                assertEquals(403, r.status(), r.body());
                assertTrue(r.body().contains("is for federated task " + task.id() + ", not task " + other.id()), r.body());
            }
            // wrong roles: no token, the inference, training and admin tokens; a client token elsewhere
            String poll = new String(MessageCodec.encode(new Message.Poll(envelope(id, "a", -1, new byte[0]))),
                    java.nio.charset.StandardCharsets.ISO_8859_1);
            for (String t : new String[] {TrainingFixture.INFERENCE, TrainingFixture.ALICE, TrainingFixture.ADMIN}) {
                HttpResponse<String> r = f.post(path, t, "application/octet-stream", poll);
                assertTrue(ServerFixture.error(r, 403).contains("not a federated client token"), r.body());
            }
            ServerFixture.error(f.post(path, null, "application/octet-stream", poll), 401);
            ServerFixture.error(f.get("/admin/federated/tasks/" + task.id(), tokenA), 403);
            ServerFixture.error(f.get("/v1/jobs", tokenA), 403);
            ServerFixture.error(f.get("/v2/models/x", tokenA), 403);
            assertEquals(state, snapshot(coordinator));

            // an old round's message after the round moved on: b and c finish round 1, then a's update is replayed
            for (String c : new String[] {"b", "c"}) {
                HttpServerConnection conn = FederatedFixture.connect(f.base, task.id(), task.token(c));
                Message.RoundTask t = assertInstanceOf(Message.RoundTask.class,
                        conn.exchange(new Message.Poll(envelope(id, c, -1, new byte[0]))));
                assertInstanceOf(Message.Accepted.class, conn.exchange(new Message.Update(envelope(id, c, 1,
                        t.roundNonce()), vector)));
            }
            assertEquals(2, coordinator.round(), "round 1 completed with three updates");
            String afterRound = snapshot(coordinator);
            byte[] stale = MessageCodec.encode(new Message.Update(envelope(id, "a", 1, rt.roundNonce()), vector));
            refused(f, path, tokenA, stale, 409, "WRONG_STATE", "message for round 1, the current round is 2");
            assertEquals(afterRound, snapshot(coordinator));
            // the client library maps the refusal back to the protocol's exception
            ProtocolException e = assertThrows(ProtocolException.class, () -> a.exchange(
                    new Message.Update(envelope(id, "a", 1, rt.roundNonce()), vector)));
            assertEquals(ProtocolException.Code.WRONG_STATE, e.code());
            // a revoked (unknown) token is not a protocol matter: the client stops
            HttpServerConnection stranger = FederatedFixture.connect(f.base, task.id(), "d4fl_not-a-token");
            HttpServerConnection.RefusedException refusedStranger = assertThrows(HttpServerConnection.RefusedException.class,
                    stranger::clientId);
            assertEquals(403, refusedStranger.status());

            // too many requests from one token: 429 with Retry-After; other clients are not affected
            int throttled = 0;
            String retryAfter = null;
            for (int i = 0; i < 40; i++) {
                HttpResponse<byte[]> r = postFrame(f, path, task.token("c"),
                        MessageCodec.encode(new Message.Poll(envelope(id, "c", 2, new byte[0]))));
                if (r.statusCode() == 429) {
                    throttled++;
                    retryAfter = r.headers().firstValue("Retry-After").orElse(null);
                    assertTrue(new String(r.body(), java.nio.charset.StandardCharsets.UTF_8).contains("requests a second"));
                } else {
                    assertEquals(200, r.statusCode());
                }
            }
            assertTrue(throttled > 0, "40 requests at once must hit the per-client limit");
            assertTrue(retryAfter != null && retryAfter.matches("[0-9]+"), "Retry-After: " + retryAfter);
            assertInstanceOf(Message.ServerMessage.class, a.exchange(new Message.Poll(envelope(id, "a", 2, new byte[0]))));
            assertEquals(afterRound, snapshot(coordinator));
        }
    }

    /**
     * The review's poisoning attack over HTTP: with no clipping, one party sends a huge finite update (1e30 per
     * weight). Under the task's max_update_norm it is refused with BAD_MESSAGE, the round closes with the two honest
     * updates without waiting for its deadline, and the new global model is their weighted mean.
     */
    @Test
    void aPoisonedUpdateAboveTheMaxUpdateNormIsRefusedAndTheRoundGoesOnWithoutIt() throws Exception {
        try (TrainingFixture f = new TrainingFixture(tmp, t -> t)) {
            FederatedFixture.Task task = FederatedFixture.create(f, TrainingFixture.ADMIN, """
                    {"rounds": 2, "clients_per_round": 3, "min_clients": 2, "max_update_norm": 10,
                     "training_timeout_ms": 60000}""", "[\"a\", \"b\", \"c\"]");
            FederatedService service = f.server.federatedService();
            var coordinator = service.running(task.id()).coordinator();
            float[] before = coordinator.weights();
            String path = "/v1/federated/tasks/" + task.id() + "/messages";
            String id = Long.toString(task.id());
            Map<String, float[]> sent = new java.util.TreeMap<>();
            for (String client : List.of("a", "b", "c")) {
                HttpServerConnection conn = FederatedFixture.connect(f.base, task.id(), task.token(client));
                Message.RoundTask rt = assertInstanceOf(Message.RoundTask.class,
                        conn.exchange(new Message.Poll(envelope(id, client, -1, new byte[0]))));
                float[] v = new float[rt.weights().length + 1];
                if (client.equals("a")) {
                    java.util.Arrays.fill(v, 1e30f);
                    v[v.length - 1] = 1f;
                    refused(f, path, task.token(client), MessageCodec.encode(new Message.Update(envelope(id, client, 1,
                            rt.roundNonce()), v)), 400, "BAD_MESSAGE", "above this task's max update norm 10.0");
                    assertArrayEquals(before, coordinator.weights(), "the refused update changed nothing");
                    continue;
                }
                for (int i = 0; i < v.length - 1; i++) {
                    v[i] = (float) (0.001 * ((i * 7 + client.charAt(0)) % 13 - 6)); // small, distinct per client
                }
                v[v.length - 1] = client.equals("b") ? 0.25f : 0.75f; // the example weights
                sent.put(client, v);
                assertEquals(200, postFrame(f, path, task.token(client), MessageCodec.encode(new Message.Update(
                        envelope(id, client, 1, rt.roundNonce()), v))).statusCode());
            }
            JsonNode round1 = FederatedFixture.status(f, TrainingFixture.ADMIN, task.id()).at("/history/0");
            assertEquals("COMPLETED", round1.get("status").asText(), round1.toString());
            assertEquals(2, round1.get("participants").asInt());
            assertEquals(1, round1.get("updates_refused").asInt());
            float[] after = coordinator.weights();
            for (int i = 0; i < after.length; i++) {
                double mean = ((double) sent.get("b")[i] + sent.get("c")[i]) / (0.25 + 0.75);
                assertEquals(before[i] + mean, after[i], 1e-6, "parameter " + i);
            }
        }
    }

    @Test
    void adminRoutesCreateListInspectAndCancelAndCheckWhatTheyAreGiven() throws Exception {
        try (TrainingFixture f = new TrainingFixture(tmp, t -> t)) {
            String model = FederatedFixture.modelConfig().toString();
            com.fasterxml.jackson.databind.node.ObjectNode stripped = FederatedFixture.modelConfig();
            ((com.fasterxml.jackson.databind.node.ObjectNode) stripped.at("/layers/0")).remove("input_dim");
            String noInputs = stripped.toString();
            // bad definitions: clear 400s naming the field
            String[][] bad = {
                    {"{\"model\": " + model + ", \"federated\": {\"rounds\": 0}}", "/federated: rounds must be >= 1"},
                    {"{\"model\": " + model + ", \"federated\": {\"secure_aggregation\": true}}",
                            "secure aggregation needs a clip norm"},
                    {"{\"model\": " + model + ", \"federated\": {\"roundz\": 3}}", "unknown federated config key 'roundz'"},
                    {"{\"model\": " + model + ", \"clients\": [\"a\", \"a\"]}", "/clients/1: 'a' is enrolled twice"},
                    {"{\"model\": " + model + ", \"clients\": 3}", "fewer than clients_per_round"},
                    {"{\"model\": " + model + ", \"clients\": [\"bad name\"]}", "/clients/0"},
                    {"{\"model\": " + noInputs + "}", "input_dim: is required"},
                    {"{\"federated\": {}}", "/model: is required"},
                    {"{\"model\": " + model + ", \"initial\": {\"model\": \"nope\"}}", "no registered model 'nope'"},
                    {"{\"model\": " + model + ", \"extra\": 1}", "unknown field [extra]"},
                    {"{\"model\": " + model + ", \"register_as\": \"../x\"}", "/register_as"},
            };
            for (String[] b : bad) {
                HttpResponse<String> r = f.post("/admin/federated/tasks", TrainingFixture.ADMIN, "application/json", b[0]);
                assertTrue(ServerFixture.error(r, 400).contains(b[1]), b[1] + " in " + r.body());
            }
            assertEquals(0, TrainingClient.json(f.get("/admin/federated/tasks", TrainingFixture.ADMIN)).get("tasks").size(),
                    "nothing was created by a refused definition");
            // a training token may not create tasks (admins issue client tokens)
            ServerFixture.error(f.post("/admin/federated/tasks", TrainingFixture.ALICE, "application/json",
                    "{\"model\": " + model + "}"), 403);

            var created = f.post("/admin/federated/tasks", TrainingFixture.ADMIN, "application/json",
                    "{\"name\": \"t\", \"model\": " + model + ", \"federated\": {\"rounds\": 5, \"clients_per_round\": 3, "
                            + "\"clip_norm\": 1, \"noise_multiplier\": 1.1}, \"clients\": 4, \"register_as\": \"fl\"}");
            assertEquals(201, created.statusCode(), created.body());
            assertEquals("no-store", created.headers().firstValue("Cache-Control").orElse(""));
            JsonNode c = TrainingClient.json(created);
            long id = c.at("/task/id").asLong();
            assertEquals(4, c.get("client_tokens").size());
            assertEquals(List.of("client-01", "client-02", "client-03", "client-04"),
                    FederatedFixture.JSON.convertValue(c.at("/task/clients/names"), List.class));
            String token = c.at("/client_tokens/client-02").asText();
            assertTrue(token.startsWith("d4fl_") && token.length() > 40, token);
            // the token is stored only as its hash
            StringBuilder db = new StringBuilder();
            for (String file : new String[] {"state.db", "state.db-wal"}) {
                if (java.nio.file.Files.exists(tmp.resolve(file))) {
                    db.append(new String(java.nio.file.Files.readAllBytes(tmp.resolve(file)),
                            java.nio.charset.StandardCharsets.ISO_8859_1));
                }
            }
            String hash = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                    .digest(token.getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
            assertTrue(db.indexOf(hash) >= 0, "the state store holds the token's hash");
            assertTrue(db.indexOf(token.substring(5)) < 0, "the state store holds no client token");
            assertEquals(1, f.registry.versions("fl").size(), "round 0's model is registered at creation");

            JsonNode status = FederatedFixture.status(f, TrainingFixture.ADMIN, id);
            assertEquals("running", status.get("state").asText());
            // round 1, or a later one when rounds without enough clients already timed out on a slow machine
            assertTrue(status.get("phase").asText().matches("round [1-9][0-9]*\\b.*"), status.toString());
            assertEquals(0.75, status.at("/clients/sampling_rate").asDouble(), 1e-12);
            assertTrue(status.at("/privacy/differential_privacy").asBoolean());
            String text = status.toString();
            assertTrue(!text.contains("weights") && !text.contains(token), "no weights nor tokens in the status: " + text);
            JsonNode list = TrainingClient.json(f.get("/admin/federated/tasks?state=running", TrainingFixture.ADMIN));
            assertEquals(id, list.at("/tasks/0/id").asLong());
            ServerFixture.error(f.get("/admin/federated/tasks/999", TrainingFixture.ADMIN), 404);
            ServerFixture.error(f.get("/admin/federated/tasks/x1", TrainingFixture.ADMIN), 400);
            ServerFixture.error(f.get("/admin/federated/tasks?state=bogus", TrainingFixture.ADMIN), 400);

            // the task's current global model cannot be deleted under it (a restart then failed the task)
            int current = FederatedFixture.status(f, TrainingFixture.ADMIN, id).get("model_version").asInt();
            assertEquals(f.registry.versions("fl").get(0).version(), current, "round 0's (no client has reported)");
            assertTrue(ServerFixture.error(f.delete("/admin/models/fl/versions/" + current, TrainingFixture.ADMIN), 409)
                    .contains("running federated task " + id), "the version of a running task");
            assertEquals(1, f.registry.versions("fl").size(), "nothing deleted");

            // cancel: the clients are told the task is over; a second cancel is a conflict
            var cancelled = f.delete("/admin/federated/tasks/" + id, TrainingFixture.ADMIN);
            assertEquals(200, cancelled.statusCode(), cancelled.body());
            assertTrue(ServerFixture.error(f.delete("/admin/federated/tasks/" + id, TrainingFixture.ADMIN), 409)
                    .contains("already cancelled"));
            HttpServerConnection conn = FederatedFixture.connect(f.base, id, token);
            Message.ServerMessage m = conn.exchange(new Message.Poll(envelope(Long.toString(id), "client-02", -1,
                    new byte[0])));
            Message.Finished fin = assertInstanceOf(Message.Finished.class, m);
            assertTrue(fin.reason().contains("cancelled by"), fin.reason());
            // an update to the ended task is told its state (409), not that its vector is too large (was 413)
            ProtocolException late = assertThrows(ProtocolException.class, () -> conn.exchange(new Message.Update(
                    envelope(Long.toString(id), "client-02", 1, new byte[16]), new float[64])));
            assertEquals(ProtocolException.Code.WRONG_STATE, late.code(), late.getMessage());
            assertTrue(late.getMessage().contains("is cancelled"), late.getMessage());
            assertEquals("cancelled", FederatedFixture.status(f, TrainingFixture.ADMIN, id).get("state").asText());
            // once the task ended, its versions are the admin's to delete
            assertEquals(200, f.delete("/admin/models/fl/versions/" + current, TrainingFixture.ADMIN).statusCode());
        }
    }

    static Message.Envelope envelope(String task, String client, long round, byte[] nonce) {
        byte[] id = new byte[16];
        new SecureRandom().nextBytes(id);
        return new Message.Envelope(task, client, round, nonce, id);
    }

    private static String snapshot(io.dense4j.federated.FederatedCoordinator c) {
        Map<String, Object> s = c.snapshot();
        return io.dense4j.tune.Json.write(s);
    }

    static HttpResponse<byte[]> postFrame(TrainingClient f, String path, String token, byte[] frame) throws Exception {
        HttpRequest r = HttpRequest.newBuilder(URI.create(f.base + path)).header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/octet-stream").POST(HttpRequest.BodyPublishers.ofByteArray(frame))
                .build();
        return java.net.http.HttpClient.newHttpClient().send(r, HttpResponse.BodyHandlers.ofByteArray());
    }

    /** Asserts a refusal: status, the protocol code header, and {"error": ...} containing {@code text}. */
    private static void refused(TrainingClient f, String path, String token, byte[] frame, int status, String code,
                                String text) throws Exception {
        HttpResponse<byte[]> r = postFrame(f, path, token, frame);
        String body = new String(r.body(), java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(status, r.statusCode(), body);
        assertEquals(code, r.headers().firstValue(HttpServerConnection.ERROR_CODE_HEADER).orElse(null), body);
        JsonNode n = FederatedFixture.JSON.readTree(body);
        assertEquals(1, n.size(), body);
        assertTrue(n.get("error").asText().contains(text), "'" + text + "' in " + body);
    }
}
