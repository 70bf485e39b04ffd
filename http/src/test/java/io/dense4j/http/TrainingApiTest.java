package io.dense4j.http;

import com.fasterxml.jackson.databind.JsonNode;
import io.dense4j.Sequential;
import io.dense4j.http.TrainingClient.Event;
import io.dense4j.registry.HistoryEntry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static io.dense4j.http.TrainingFixture.ADMIN;
import static io.dense4j.http.TrainingFixture.ALICE;
import static io.dense4j.http.TrainingFixture.BOB;
import static io.dense4j.http.TrainingFixture.CAROL;
import static io.dense4j.http.TrainingFixture.INFERENCE;
import static io.dense4j.http.TrainingClient.json;
import static io.dense4j.http.TrainingClient.trainSpec;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The training service over HTTP, end to end: data set uploads, a train job and a tune job followed live through
 * Server-Sent Events, registered with lineage, promoted only when better (through the serving alias path: the
 * server serves the promoted version at once), cancellation, roles and ownership.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 240, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class TrainingApiTest {
    static final String WEAK = "{\"type\": \"sgd\", \"learning_rate\": 0.0001}";
    static final String STRONG = "{\"type\": \"adam\", \"learning_rate\": 0.01}";

    @TempDir
    static Path tmp;
    TrainingFixture f;

    @BeforeAll
    void start() {
        f = new TrainingFixture(tmp, t -> t.maxEventStreamsPerToken(4));
    }

    @AfterAll
    void stop() {
        f.close();
    }

    /** A test that failed half-way must not leave jobs holding the threads the next test needs. */
    @AfterEach
    void cancelLeftovers() throws Exception {
        for (JsonNode j : json(f.get("/v1/jobs?limit=500", ADMIN)).get("jobs")) {
            String state = j.get("state").asText();
            if (state.equals("queued") || state.equals("running")) {
                f.delete("/v1/jobs/" + j.get("id").asLong(), ADMIN);
                f.awaitEnd(j.get("id").asLong(), ADMIN, 60);
            }
        }
    }

    @Test
    void aTrainJobStreamsItsProgressRegistersWithLineageAndIsPromotedOnlyWhenBetter() throws Exception {
        Path idx = TrainingData.idxDirectory(tmp.resolve("digits"), 240, 90, 4, 7);
        JsonNode d = f.uploadIdx(idx, "digits", ALICE);
        String sha = d.get("sha256").asText();
        assertEquals(TrainingData.manifestSha256(idx), sha, "content address: sha256sum * | sha256sum");
        assertEquals(240, d.get("rows").asInt());
        assertEquals(90, d.get("test_rows").asInt());
        assertEquals(16, d.get("features").asInt());
        assertEquals(3, d.get("classes").asInt());
        assertEquals("[\"0\",\"1\",\"2\"]", d.get("class_names").toString());
        assertEquals(4, d.get("files").size());
        assertFalse(d.has("location"), "where the server keeps data is for admins only");
        try (var s = Files.list(idx)) {
            List<Path> files = s.sorted().toList();
            // the same bytes are the same data set (one copy); new to bob, so 201 for him, 200 for alice again
            HttpResponse<String> again = f.uploadFiles("?name=again", BOB, files);
            assertEquals(201, again.statusCode(), "the same bytes, new to bob: " + again.body());
            assertEquals("digits", json(again).get("name").asText());
            assertEquals(sha, json(again).get("sha256").asText());
            assertEquals(200, f.uploadFiles("?name=again", ALICE, files).statusCode(), "alice holds it already");
        }

        String promote = ", \"register_as\": \"digits\", \"promote\": \"if_better\"";
        long first = f.submit(trainSpec(sha, WEAK, 1, promote), ALICE);
        List<Event> events = f.events(first, ALICE, null);
        List<String> kinds = events.stream().map(Event::event).toList();
        assertEquals("end", kinds.get(kinds.size() - 1), kinds.toString());
        assertTrue(kinds.containsAll(List.of("state", "phase", "epoch")), kinds.toString());
        long previous = 0;
        for (Event e : events) {
            if (e.id() != null) {
                assertTrue(e.id() > previous, "event ids increase: " + events);
                previous = e.id();
            }
        }
        List<String> states = events.stream().filter(e -> "state".equals(e.event()))
                .map(e -> e.data().path("state").asText()).toList();
        assertEquals(List.of("queued", "running", "succeeded"), states);
        JsonNode epoch = events.stream().filter(e -> "epoch".equals(e.event())).findFirst().orElseThrow().data();
        assertEquals(1, epoch.get("epoch").asInt());
        assertTrue(epoch.has("loss") && epoch.has("accuracy") && epoch.has("eta_seconds"), epoch.toString());
        JsonNode end = events.get(events.size() - 1).data();
        assertEquals("succeeded", end.get("state").asText(), end.toString());

        JsonNode r1 = f.job(first, ALICE).get("result");
        assertEquals(1, r1.at("/registered/version").asInt(), r1.toString());
        assertTrue(r1.at("/promotion/promoted").asBoolean(), r1.toString());
        assertEquals(90, r1.at("/holdout/rows").asInt(), "the data set's own test split is the holdout");

        long second = f.submit(trainSpec(sha, STRONG, 8, promote), ALICE);
        JsonNode j2 = f.awaitEnd(second, ALICE, 120);
        assertEquals("succeeded", j2.get("state").asText(), j2.toString());
        JsonNode r2 = j2.get("result");
        assertTrue(r2.at("/promotion/promoted").asBoolean(), "better on the same holdout: " + r2.get("promotion"));
        assertTrue(r2.at("/promotion/candidate").asDouble() > r2.at("/promotion/stable").asDouble());
        // promoted through the serving path: the server serves version 2 by default at once
        HttpResponse<String> infer = f.post("/v2/models/digits/infer", INFERENCE, "application/json",
                "{\"inputs\": [{\"name\": \"input\", \"shape\": [1, 16], \"datatype\": \"FP32\", \"data\": "
                        + "[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]}]}");
        assertEquals(200, infer.statusCode(), infer.body());
        assertEquals("2", json(infer).get("model_version").asText());

        long third = f.submit(trainSpec(sha, WEAK, 1, promote), ALICE);
        JsonNode r3 = f.awaitEnd(third, ALICE, 120).get("result");
        assertEquals(3, r3.at("/registered/version").asInt());
        assertFalse(r3.at("/promotion/promoted").asBoolean(), "worse: stable stays: " + r3.get("promotion"));
        assertEquals(2, f.registry.resolveAlias("digits", "stable").orElseThrow());

        // lineage travels in the registered model file; the alias move is in the history under the job's owner
        try (Sequential m = Sequential.load(f.registry.modelFile("digits", 2))) {
            Map<?, ?> lineage = (Map<?, ?>) m.trainingInfo().get("lineage");
            assertEquals(sha, lineage.get("dataset_sha256"));
            assertEquals(second, ((Number) lineage.get("job_id")).longValue());
            assertEquals(8, ((List<?>) lineage.get("epochs")).size());
            assertEquals("digits", ((Map<?, ?>) lineage.get("job_spec")).get("register_as"));
            assertEquals(Map.of("test_split", true, "rows", 90), lineage.get("holdout"));
            assertTrue(String.valueOf(lineage.get("code_version")).startsWith("dense4j "));
            assertEquals("alice", lineage.get("trained_by"));
        }
        assertEquals("job:" + second, f.registry.describe("digits", 2).source());
        HistoryEntry moved = f.registry.history("digits").stream()
                .filter(h -> "stable".equals(h.alias()) && Integer.valueOf(2).equals(h.version())).findFirst().orElseThrow();
        assertEquals("alice", moved.actor(), "the token's name, never the token, is recorded");

        // replay after a Last-Event-ID: exactly the events after it
        long middle = events.get(3).id() != null ? events.get(3).id() : events.get(2).id();
        List<Event> tail = f.events(first, ALICE, middle);
        List<Long> expected = events.stream().map(Event::id).filter(i -> i != null && i > middle).toList();
        assertEquals(expected, tail.stream().map(Event::id).filter(i -> i != null).toList());
        // a replayed event carries the time it was written (the reader must not stamp it with its arrival)
        Map<Long, String> writtenAt = new java.util.HashMap<>();
        json(f.get("/v1/jobs/" + first + "/logs?format=json", ALICE)).get("events")
                .forEach(e -> writtenAt.put(e.get("seq").asLong(), e.get("at").asText()));
        for (Event e : tail) {
            if (e.id() != null) {
                assertEquals(writtenAt.get(e.id()), e.data().path("at").asText(), e.toString());
            }
        }

        String log = f.get("/v1/jobs/" + second + "/logs", ALICE).body();
        assertTrue(log.contains("epoch 8/8") && log.contains("promotion") && log.contains("succeeded"), log);
        JsonNode logJson = json(f.get("/v1/jobs/" + second + "/logs?format=json&after=" + 1, ALICE));
        assertTrue(logJson.get("events").size() > 8, logJson.toString());
    }

    @Test
    void aTuneJobRecordsEveryTrialAndRegistersTheBest() throws Exception {
        Path csv = TrainingData.csv(tmp.resolve("iris.csv"), 300, 4, 3);
        JsonNode d = f.uploadCsv(csv, "?name=iris&ignore_columns=id&label_column=species", BOB);
        String sha = d.get("sha256").asText();
        assertEquals(TrainingData.sha256(Files.readAllBytes(csv)), sha, "a CSV's address is its file's SHA-256");
        assertEquals(List.of("setosa", "versicolor", "virginica"),
                List.of(d.at("/class_names/0").asText(), d.at("/class_names/1").asText(), d.at("/class_names/2").asText()));
        assertEquals(4, d.get("features").asInt());
        assertEquals(300, d.get("rows").asInt());

        String spec = """
                {"type": "tune", "name": "iris lr", "dataset": {"sha256": "%s", "holdout": {"fraction": 0.2, "seed": 3}},
                 "config": {"model": {"class_name": "Sequential", "config_version": 2,
                                      "layers": [{"type": "dense", "units": 8, "activation": "relu"},
                                                 {"type": "dense", "units": 3, "activation": "softmax"}],
                                      "preprocessing": {"type": "standardize"},
                                      "compile_config": {"optimizer": {"type": "adam", "learning_rate": 0.01},
                                                         "loss": "sparse_categorical_crossentropy"}},
                            "fit": {"epochs": 4, "batch_size": 16, "seed": 2}},
                 "tune": {"search_space": {"/model/compile_config/optimizer/learning_rate":
                                               {"type": "choice", "values": [0.0003, 0.003, 0.03]}},
                          "sampler": {"type": "grid"}, "max_trials": 3, "max_parallel_trials": 2,
                          "objective": {"type": "kfold", "k": 2},
                          "early_stopping": {"type": "asha", "min_epochs": 1, "max_epochs": 4, "reduction_factor": 2}},
                 "resources": {"cpus": 2}, "register_as": "iris-tuned", "promote": "if_better"}""".formatted(sha);
        long id = f.submit(spec, BOB);
        List<Event> events = f.events(id, BOB, null);
        JsonNode end = events.get(events.size() - 1).data();
        assertEquals("succeeded", end.get("state").asText(), end.toString());
        assertTrue(events.stream().filter(e -> "trial".equals(e.event())).count() >= 3, events.toString());
        List<String> phases = events.stream().filter(e -> "phase".equals(e.event()))
                .map(e -> e.data().get("phase").asText()).toList();
        assertTrue(phases.containsAll(List.of("searching", "retraining", "registered", "promotion")), phases.toString());

        JsonNode job = f.job(id, BOB);
        assertEquals(3, job.get("trials").size(), job.toString());
        for (JsonNode t : job.get("trials")) {
            assertTrue(List.of("completed", "stopped").contains(t.get("state").asText()), t.toString());
            assertTrue(t.at("/params").has("/model/compile_config/optimizer/learning_rate"), t.toString());
        }
        int best = job.at("/result/best_trial").asInt();
        assertEquals(1, job.at("/result/registered/version").asInt());
        try (Sequential m = Sequential.load(f.registry.modelFile("iris-tuned", 1))) {
            Map<?, ?> lineage = (Map<?, ?>) m.trainingInfo().get("lineage");
            assertEquals(3, ((List<?>) lineage.get("trials")).size());
            assertEquals(sha, lineage.get("dataset_sha256"));
            assertEquals(List.of("setosa", "versicolor", "virginica"), m.classNames());
        }
        assertEquals(job.at("/trials/" + best + "/params"), job.at("/result/tune/trials/" + best + "/params"));

        // the job shows each trial's summary; the full records (config, every fold's metrics per epoch) come a page
        // at a time from the trials route
        for (JsonNode t : job.get("trials")) {
            assertFalse(t.has("config"), t.toString());
            t.get("rungs").forEach(r -> assertFalse(r.has("history"), r.toString()));
        }
        job.at("/result/tune/trials").forEach(t -> t.get("rungs").forEach(r -> assertFalse(r.has("history"), r.toString())));
        JsonNode page1 = TrainingClient.json(f.get("/v1/jobs/" + id + "/trials?limit=2", BOB));
        assertEquals(2, page1.get("trials").size(), page1.toString());
        assertEquals(1, page1.get("next_after").asInt(), page1.toString());
        JsonNode page2 = TrainingClient.json(f.get("/v1/jobs/" + id + "/trials?limit=2&after=1", BOB));
        assertEquals(1, page2.get("trials").size(), page2.toString());
        assertFalse(page2.has("next_after"), page2.toString());
        List<JsonNode> full = new ArrayList<>();
        page1.get("trials").forEach(full::add);
        page2.get("trials").forEach(full::add);
        for (int i = 0; i < 3; i++) {
            JsonNode t = full.get(i);
            assertEquals(i, t.get("id").asInt());
            assertEquals(job.at("/trials/" + i + "/params"), t.get("params"));
            assertTrue(t.get("config").isObject(), t.toString());
            JsonNode folds = t.at("/rungs/0/history");
            assertEquals(2, folds.size(), "one history per fold: " + t);
            assertTrue(folds.get(0).get("loss").size() >= 1, t.toString());
        }
        assertEquals(400, f.get("/v1/jobs/" + id + "/trials?limit=101", BOB).statusCode());
        assertEquals(404, f.get("/v1/jobs/" + id + "/trials", ALICE).statusCode(), "another owner's job");
    }

    @Test
    void cancellingStopsARunningJobWithinAChunkAndFreesItsThreads() throws Exception {
        String sha = f.uploadCsv(TrainingData.csv(tmp.resolve("cancel.csv"), 600, 6, 5),
                "?name=cancel&ignore_columns=id", CAROL).get("sha256").asText();
        long big = f.submit(trainSpec(sha, STRONG, 100_000, ", \"resources\": {\"cpus\": 2}"), CAROL);
        long small = f.submit(trainSpec(sha, STRONG, 1, ""), CAROL);
        JsonNode running = f.job(big, CAROL);
        for (int i = 0; i < 600 && running.get("progress").isNull(); i++) {
            Thread.sleep(50);
            running = f.job(big, CAROL);
        }
        assertEquals("running", running.get("state").asText());
        assertTrue(running.get("progress").has("eta_seconds"), running.toString());
        assertEquals("queued", f.job(small, CAROL).get("state").asText(), "both job threads are held by the big job");

        long t0 = System.nanoTime();
        HttpResponse<String> c = f.delete("/v1/jobs/" + big, CAROL);
        assertEquals(202, c.statusCode(), c.body());
        assertEquals("cancel_requested", json(c).get("outcome").asText());
        JsonNode cancelled = f.awaitEnd(big, CAROL, 30);
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertEquals("cancelled", cancelled.get("state").asText());
        assertTrue(seconds < 10, "stopped after " + seconds + " s");
        assertEquals("succeeded", f.awaitEnd(small, CAROL, 60).get("state").asText(), "its threads went to the next job");
        assertEquals(409, c(f.delete("/v1/jobs/" + big, CAROL)), "already cancelled");

        long hold = f.submit(trainSpec(sha, STRONG, 100_000, ", \"resources\": {\"cpus\": 2}"), CAROL);
        long waiting = f.submit(trainSpec(sha, STRONG, 1, ""), CAROL);
        HttpResponse<String> q = f.delete("/v1/jobs/" + waiting, CAROL);
        assertEquals(200, q.statusCode(), q.body());
        assertEquals("cancelled", json(q).get("state").asText(), "a queued job is cancelled at once");
        f.awaitRunning(hold, CAROL, 30);
        assertEquals(202, c(f.delete("/v1/jobs/" + hold, CAROL)), "running: it stops within a chunk");
        assertEquals("cancelled", f.awaitEnd(hold, CAROL, 30).get("state").asText());
        assertEquals(null, f.job(waiting, CAROL).get("started_at").textValue(), "it never ran");
    }

    private static int c(HttpResponse<String> r) {
        return r.statusCode();
    }

    @Test
    void rolesAndOwnership() throws Exception {
        assertEquals(401, f.get("/v1/jobs", null).statusCode());
        assertEquals("Bearer", f.get("/v1/jobs", null).headers().firstValue("WWW-Authenticate").orElse(""));
        ServerFixture.error(f.get("/v1/jobs", INFERENCE), 403);
        ServerFixture.error(f.get("/v1/datasets", "nope"), 403);
        assertEquals(200, f.get("/v1/jobs", ADMIN).statusCode(), "admins may use the training API");
        ServerFixture.error(f.post("/admin/datasets", ALICE, "application/json", "{\"path\": \"/tmp\"}"), 403);

        Path csv = TrainingData.csv(tmp.resolve("owned.csv"), 90, 3, 11);
        String sha = f.uploadCsv(csv, "?name=owned&ignore_columns=id", ALICE).get("sha256").asText();
        long job = f.submit(trainSpec(sha, STRONG, 1, ""), ALICE);
        for (String path : List.of("/v1/jobs/" + job, "/v1/jobs/" + job + "/logs", "/v1/jobs/" + job + "/events")) {
            assertTrue(ServerFixture.error(f.get(path, BOB), 404).contains("no job " + job), path);
        }
        ServerFixture.error(f.delete("/v1/jobs/" + job, BOB), 404);
        // HEAD answers as GET would, without a body: the owner's stream exists (nothing is opened), another's does not
        HttpResponse<String> head = f.send(f.req("/v1/jobs/" + job + "/events", ALICE)
                .method("HEAD", HttpRequest.BodyPublishers.noBody()).build());
        assertEquals(200, head.statusCode());
        assertTrue(head.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"), head.headers().toString());
        assertEquals(404, f.send(f.req("/v1/jobs/" + job + "/events", BOB).method("HEAD", HttpRequest.BodyPublishers.noBody())
                .build()).statusCode());
        assertFalse(f.get("/v1/jobs", BOB).body().contains("\"id\":" + job + ","), "bob lists only his own jobs");
        ServerFixture.error(f.get("/v1/jobs?owner=alice", BOB), 403);
        JsonNode all = json(f.get("/v1/jobs?owner=alice", ADMIN)).get("jobs");
        assertTrue(all.size() >= 1 && all.get(0).has("server"), all.toString());
        assertFalse(f.job(job, ALICE).has("server"), "which server runs it is for admins");
        assertEquals("succeeded", f.awaitEnd(job, ALICE, 60).get("state").asText());

        assertFalse(json(f.get("/v1/datasets/" + sha, ALICE)).has("location"));
        JsonNode asAdmin = json(f.get("/v1/datasets/" + sha, ADMIN));
        assertEquals("upload", asAdmin.get("source").asText());
        assertTrue(Files.isDirectory(Path.of(asAdmin.get("location").asText())));
        ServerFixture.error(f.delete("/v1/datasets/" + sha, BOB), 404); // not his: for him it is not there
        long using = f.submit(trainSpec(sha, STRONG, 100_000, ""), ALICE);
        String inUse = ServerFixture.error(f.delete("/v1/datasets/" + sha, ALICE), 409);
        assertTrue(inUse.contains("job " + using), inUse);
        int stop = c(f.delete("/v1/jobs/" + using, ALICE));
        assertTrue(stop == 200 || stop == 202, "cancelled while queued (200) or stopping (202): " + stop);
        f.awaitEnd(using, ALICE, 30);
        assertEquals(200, c(f.delete("/v1/datasets/" + sha, ALICE)));
        assertFalse(Files.exists(Path.of(asAdmin.get("location").asText())), "an uploaded data set's files are removed");
        ServerFixture.error(f.get("/v1/datasets/" + sha, ALICE), 404);

        // a tenant's data set is its own: another sees nothing of it (not in the list, 404, no jobs on it), and
        // learns nothing from uploading the same bytes (201 as for new data, no owner named); it then holds them
        // too, and keeps them when the first uploader deletes its copy
        Path shared = TrainingData.csv(tmp.resolve("shared.csv"), 90, 3, 12);
        String s2 = f.uploadCsv(shared, "?name=private&ignore_columns=id", ALICE).get("sha256").asText();
        assertFalse(f.get("/v1/datasets", BOB).body().contains(s2), "bob does not list alice's data set");
        ServerFixture.error(f.get("/v1/datasets/" + s2, BOB), 404);
        assertTrue(ServerFixture.error(f.post("/v1/jobs", BOB, "application/json", trainSpec(s2, STRONG, 1, "")), 404)
                .contains("no data set " + s2));
        HttpResponse<String> again = f.send(f.req("/v1/datasets?name=mine&ignore_columns=id", BOB)
                .header("Content-Type", "text/csv").POST(HttpRequest.BodyPublishers.ofFile(shared)).build());
        assertEquals(201, again.statusCode(), again.body());
        assertFalse(json(again).has("created_by"), "another tenant's name: " + again.body());
        assertEquals(s2, json(again).get("sha256").asText());
        assertTrue(f.get("/v1/datasets", BOB).body().contains(s2), "now bob holds it too");
        assertEquals("succeeded", f.awaitEnd(f.submit(trainSpec(s2, STRONG, 1, ""), BOB), BOB, 60).get("state").asText());
        String where = json(f.get("/v1/datasets/" + s2, ADMIN)).get("location").asText();
        assertEquals(200, c(f.delete("/v1/datasets/" + s2, ALICE)), "alice lets go of her copy");
        ServerFixture.error(f.get("/v1/datasets/" + s2, ALICE), 404);
        assertEquals("bob", json(f.get("/v1/datasets/" + s2, BOB)).get("created_by").asText(), "bob's now");
        assertTrue(Files.isDirectory(Path.of(where)), "the data stays for bob");
        assertEquals(200, c(f.delete("/v1/datasets/" + s2, BOB)));
        assertFalse(Files.exists(Path.of(where)), "the last holder's delete removes the files");

        // an admin registers data already on the server, in place
        Path local = TrainingData.idxDirectory(tmp.resolve("server-side"), 60, 0, 3, 99);
        HttpResponse<String> reg = f.post("/admin/datasets", ADMIN, "application/json",
                "{\"path\": \"" + local + "\", \"name\": \"local\", \"class_names\": [\"a\", \"b\", \"c\"]}");
        assertEquals(201, reg.statusCode(), reg.body());
        assertEquals("server", json(reg).get("source").asText());
        assertEquals(local.toString(), json(reg).get("location").asText());
        assertEquals(9, json(reg).get("features").asInt());
        ServerFixture.error(f.post("/admin/datasets", ADMIN, "application/json", "{\"path\": \"relative/dir\"}"), 400);
        ServerFixture.error(f.post("/admin/datasets", ADMIN, "application/json",
                "{\"path\": \"" + tmp.resolve("missing") + "\"}"), 404);
        String localSha = json(reg).get("sha256").asText();
        ServerFixture.error(f.delete("/v1/datasets/" + localSha, ALICE), 403);
        assertEquals(200, c(f.delete("/v1/datasets/" + localSha, ADMIN)));
        assertTrue(Files.isDirectory(local), "a server directory is never deleted");
    }

    /**
     * A training token's jobs register (and promote) only new models or models they created. Any token could add a
     * version to any model - the admin's production model included - and with "promote": "if_better" on a holdout
     * of its own choosing move that model's stable alias, i.e. change what inference serves.
     */
    @Test
    void aTrainingTokenRegistersOnlyIntoModelsItsJobsCreated() throws Exception {
        String sha = f.uploadCsv(TrainingData.csv(tmp.resolve("mine.csv"), 90, 3, 5), "?name=mine&ignore_columns=id",
                ALICE).get("sha256").asText();
        String into = ", \"register_as\": \"alices\"";
        long registered = f.submit(trainSpec(sha, STRONG, 1, into), ALICE);
        assertEquals("succeeded", f.awaitEnd(registered, ALICE, 60).get("state").asText());
        // a finished job leaves nothing in its work directory: its checkpoints went with it (they used to stay for
        // good), and a token's job that registers nothing keeps no model file (no route serves it, no quota counts it)
        Path jobs = f.registry.root().resolve(".jobs");
        assertFalse(awaitGone(jobs.resolve("job-" + registered)), "job " + registered + "'s work directory");
        long unregistered = f.submit(trainSpec(sha, STRONG, 1, ""), ALICE);
        JsonNode end = f.awaitEnd(unregistered, ALICE, 60);
        assertEquals("succeeded", end.get("state").asText());
        assertTrue(end.path("result").has("metrics") && !end.path("result").has("model_file")
                && !end.path("result").path("model_kept").asBoolean(true), end.toString());
        assertFalse(awaitGone(jobs.resolve("job-" + unregistered)));
        long admins = f.submit(trainSpec(sha, STRONG, 1, ""), ADMIN);
        assertEquals("succeeded", f.awaitEnd(admins, ADMIN, 60).get("state").asText());
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10); // a bound: the job thread cleans after the end
        List<String> left;
        do {
            try (var l = Files.list(jobs.resolve("job-" + admins))) {
                left = l.map(p -> p.getFileName().toString()).sorted().toList();
            }
        } while (!left.equals(List.of("model-1.d4j")) && System.nanoTime() < until && sleep(20));
        assertEquals(List.of("model-1.d4j"), left, "an admin's job keeps its model, and only it");
        String refused = ServerFixture.error(f.post("/v1/jobs", BOB, "application/json",
                trainSpec(sha, STRONG, 1, into + ", \"promote\": \"if_better\"")), 403);
        assertTrue(refused.contains("'alices'"), refused);
        assertEquals("succeeded", f.awaitEnd(f.submit(trainSpec(sha, STRONG, 1, into), ALICE), ALICE, 60)
                .get("state").asText(), "its own model, again");
        assertEquals("succeeded", f.awaitEnd(f.submit(trainSpec(sha, STRONG, 1, into), ADMIN), ADMIN, 60)
                .get("state").asText(), "an admin registers anywhere");
        ServerFixture.error(f.post("/v1/jobs", ALICE, "application/json", trainSpec(sha, STRONG, 1, into)), 403);
        assertEquals(List.of(1, 2, 3), f.registry.versionNumbers("alices"));
        // an upload whose audit name spells a token's is still not that token's model
        f.registry.register("uploaded", TestModels.writeModel(tmp.resolve("up.d4j"), 1),
                io.dense4j.registry.RegisterOptions.defaults().actor("alice").source("http upload"));
        String upload = ServerFixture.error(f.post("/v1/jobs", ALICE, "application/json",
                trainSpec(sha, STRONG, 1, ", \"register_as\": \"uploaded\"")), 403);
        assertTrue(upload.contains("'uploaded'"), upload);
        // nor is a model whose versions were all deleted: its name and history stay
        for (int v : f.registry.versionNumbers("alices")) {
            f.registry.deleteVersion("alices", v, "admin-api");
        }
        assertTrue(f.registry.exists("alices"));
        String emptied = ServerFixture.error(f.post("/v1/jobs", BOB, "application/json", trainSpec(sha, STRONG, 1, into)),
                403);
        assertTrue(emptied.contains("no versions left"), emptied);
        assertEquals(List.of(), f.registry.versionNumbers("alices"));
    }

    /** Whether {@code p} still exists after waiting up to 10 s for it to go (the job thread cleans after the end). */
    private static boolean awaitGone(Path p) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (Files.exists(p) && System.nanoTime() < until) {
            Thread.sleep(20);
        }
        return Files.exists(p);
    }

    private static boolean sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return true;
    }

    /** Event streams hold no request thread (idle or slow clients cannot starve requests) and are bounded per token. */
    @Test
    void eventStreamsHoldNoThreadAndAreBoundedPerToken() throws Exception {
        String sha = f.uploadCsv(TrainingData.csv(tmp.resolve("streams.csv"), 300, 4, 8),
                "?name=streams&ignore_columns=id", CAROL).get("sha256").asText();
        long job = f.submit(trainSpec(sha, STRONG, 100_000, ""), CAROL);
        f.awaitRunning(job, CAROL, 30);
        int before = f.server.busyRequestThreads();
        List<RawHttp> clients = new ArrayList<>();
        try {
            for (int i = 0; i < 4; i++) {
                RawHttp c = new RawHttp(f.server.port()); // connects, asks, then never reads
                c.write("GET /v1/jobs/" + job + "/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + CAROL
                        + "\r\nAccept: text/event-stream\r\n\r\n");
                clients.add(c);
            }
            long opened = System.nanoTime() + TimeUnit.SECONDS.toNanos(30); // a bound: exits once the 4 are open
            while (f.server.openEventStreams() < 4 && System.nanoTime() < opened) {
                Thread.sleep(50);
            }
            assertEquals(4, f.server.openEventStreams());
            assertTrue(f.server.busyRequestThreads() <= before + 1, "streams hold no request thread: "
                    + f.server.busyRequestThreads() + " busy, " + before + " before");
            assertTrue(ServerFixture.error(f.get("/v1/jobs/" + job + "/events", CAROL), 429).contains("event streams"));
            assertEquals(200, f.get("/v1/jobs/" + job, CAROL).statusCode(), "other requests are served meanwhile");
            String metrics = f.get("/metrics", TrainingFixture.ADMIN).body();
            assertTrue(metrics.contains("dense4j_jobs_event_streams 4.0") && metrics.contains("dense4j_jobs_running 1.0"),
                    metrics.lines().filter(l -> l.startsWith("dense4j_jobs")).toList().toString());
        } finally {
            for (RawHttp c : clients) {
                c.close();
            }
        }
        assertEquals(202, c(f.delete("/v1/jobs/" + job, CAROL)));
        assertEquals("cancelled", f.awaitEnd(job, CAROL, 30).get("state").asText());
        long released = System.nanoTime() + TimeUnit.SECONDS.toNanos(30); // a bound: exits once released
        while (f.server.openEventStreams() > 0 && System.nanoTime() < released) {
            Thread.sleep(50); // a stream notices its client left at its next write (the job's end)
        }
        assertEquals(0, f.server.openEventStreams(), "streams of departed clients are released");
        List<Event> replay = f.events(job, CAROL, null);
        assertEquals("cancelled", replay.get(replay.size() - 1).data().get("state").asText(), "a finished job replays, then ends");
    }

    @Test
    void badQueryParametersAreClear400s() throws Exception {
        JsonNode list = json(f.get("/v1/jobs?state=succeeded&limit=5", ALICE));
        assertNotNull(list.get("jobs"));
        ServerFixture.error(f.get("/v1/jobs?state=done", ALICE), 400);
        ServerFixture.error(f.get("/v1/jobs?limit=0", ALICE), 400);
        ServerFixture.error(f.get("/v1/jobs/abc", ALICE), 400);
        ServerFixture.error(f.get("/v1/jobs/999999", ALICE), 404);
        ServerFixture.error(f.get("/v1/jobs/1/events?after=-3", ADMIN), 400);
        ServerFixture.error(f.get("/v1/datasets/not-a-sha", ALICE), 400);
    }
}
