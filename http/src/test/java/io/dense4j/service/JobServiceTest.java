package io.dense4j.service;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.dense4j.Sequential;
import io.dense4j.registry.ModelRegistry;
import io.dense4j.service.job.EventWriter;
import io.dense4j.service.job.JobRunner;
import io.dense4j.service.job.JobSpec;
import io.dense4j.service.job.JobState;
import io.dense4j.service.scheduler.Capacity;
import io.dense4j.service.scheduler.ImpossibleRequestException;
import io.dense4j.service.store.Database;
import io.dense4j.service.store.JobStore;
import io.dense4j.service.store.Records;
import io.dense4j.service.store.StoreException;
import io.dense4j.service.store.TestClock;
import io.dense4j.tune.ConfigException;
import io.dense4j.tune.Json;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Jobs end to end without HTTP: submit, schedule, claim, run, register with lineage, promote, cancel, resume. */
class JobServiceTest {
    @TempDir
    Path dir;
    ModelRegistry registry;
    JobStore store;
    final List<JobService> services = new ArrayList<>();

    static String config(String optimizer, int epochs) {
        return """
                {"model": {"class_name": "Sequential", "config_version": 2,
                           "layers": [{"type": "dense", "units": 16, "activation": "relu"},
                                      {"type": "dense", "units": 3, "activation": "softmax"}],
                           "compile_config": {"optimizer": %s, "loss": "sparse_categorical_crossentropy",
                                              "metrics": ["accuracy"]}},
                 "fit": {"epochs": %d, "batch_size": 16, "seed": 1}}""".formatted(optimizer, epochs);
    }

    /** A spec field: checkpoint after every epoch (the default is at most every 30 s, i.e. once for these jobs). */
    static final String EVERY_EPOCH = ", \"checkpoint\": {\"min_interval_seconds\": 0}";

    static String train(String sha, String optimizer, int epochs, String extra) {
        return "{\"type\": \"train\", \"dataset\": {\"sha256\": \"" + sha + "\", \"holdout\": {\"fraction\": 0.2}}, "
                + "\"config\": " + config(optimizer, epochs) + extra + "}";
    }

    @BeforeEach
    void open() {
        registry = ModelRegistry.open(dir.resolve("registry"));
        store = new JobStore(Database.sqlite(dir.resolve("state.db")));
        for (String sha : List.of(TestData.BLOBS, TestData.BIG, TestData.WIDE, TestData.NOISY)) {
            store.putDataset(new Records.Dataset(sha, "blobs", "generated", 600, 8, 3, List.of("a", "b", "c"), "-", 1, 0, io.dense4j.service.job.JobRunner.ADMIN_OWNER));
        }
    }

    @AfterEach
    void close() {
        services.forEach(JobService::close);
    }

    JobService service(String id, int cpus, Duration lease) {
        return service(id, cpus, lease, EventWriter.DEFAULT_MIN_INTERVAL);
    }

    /** With {@code events} ZERO every epoch event is written, and heard by listeners, as it happens. */
    JobService service(String id, int cpus, Duration lease, Duration events) {
        JobService.Settings d = new JobService.Settings(id, Capacity.of(cpus, List.of(), 0), 10, dir.resolve("work"),
                lease, lease.dividedBy(4), Duration.ofMillis(50));
        JobService s = new JobService(store, new JobRunner(registry, TestData.resolver(), registry::setAlias),
                new JobService.Settings(d.serverId(), d.capacity(), d.maxRunningPerOwner(), d.workRoot(), d.lease(),
                        d.heartbeat(), d.poll(), d.maxQueuedPerOwner(), d.jobNice(), d.checkpointInterval(), events));
        services.add(s);
        s.start();
        return s;
    }

    Records.Job await(JobService s, long id, JobState state, int seconds) throws InterruptedException {
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        while (System.nanoTime() < end) {
            Records.Job j = s.get(id).orElseThrow();
            if (j.state() == state) {
                return j;
            }
            if (j.state().terminal()) {
                throw new AssertionError("job " + id + " ended " + j.state() + ": " + j.error());
            }
            Thread.sleep(20);
        }
        throw new AssertionError("job " + id + " is " + s.get(id).orElseThrow().state() + " after " + seconds + " s");
    }

    @Test
    void trainJobsRegisterWithLineageAndPromoteOnlyWhenBetter() throws Exception {
        JobService s = service("s1", 2, Duration.ofSeconds(10));
        String weak = "{\"type\": \"sgd\", \"learning_rate\": 0.0005}";
        String promote = ", \"register_as\": \"blobs\", \"promote\": \"if_better\", \"promote_metric\": \"loss\"";
        long first = s.submit(Json.parse(train(TestData.BLOBS, weak, 1, promote)), "alice").id();
        JsonNode r1 = Json.parse(await(s, first, JobState.SUCCEEDED, 60).result());
        assertEquals(1, r1.at("/registered/version").asInt());
        assertTrue(r1.at("/promotion/promoted").asBoolean(), r1.toString());
        assertEquals("there is no stable version yet", r1.at("/promotion/reason").asText());
        assertEquals(1, registry.resolveAlias("blobs", "stable").orElseThrow());

        // the same config and seed: the same holdout loss, which is not better: stable stays
        long same = s.submit(Json.parse(train(TestData.BLOBS, weak, 1, promote)), "alice").id();
        JsonNode r2 = Json.parse(await(s, same, JobState.SUCCEEDED, 60).result());
        assertEquals(2, r2.at("/registered/version").asInt());
        assertFalse(r2.at("/promotion/promoted").asBoolean(), r2.toString());
        assertEquals(r2.at("/promotion/candidate").asDouble(), r2.at("/promotion/stable").asDouble(), 0.0);
        assertEquals(1, registry.resolveAlias("blobs", "stable").orElseThrow());

        // another token's jobs may not add versions to alice's model, nor promote over it
        String better = train(TestData.BLOBS, "{\"type\": \"adam\", \"learning_rate\": 0.01}", 5, promote);
        assertTrue(assertThrows(ForbiddenException.class, () -> s.submit(Json.parse(better), "bob")).getMessage()
                .contains("'blobs'"));
        // a better model on the same holdout: promoted
        long good = s.submit(Json.parse(better), "alice").id();
        JsonNode r3 = Json.parse(await(s, good, JobState.SUCCEEDED, 60).result());
        assertTrue(r3.at("/promotion/promoted").asBoolean(), r3.toString());
        assertTrue(r3.at("/promotion/candidate").asDouble() < r3.at("/promotion/stable").asDouble());
        assertEquals(3, registry.resolveAlias("blobs", "stable").orElseThrow());
        assertEquals(5, r3.get("epochs").size());
        assertEquals(120, r3.at("/holdout/rows").asInt());

        // lineage travels in the registered model file
        try (Sequential m = Sequential.load(registry.modelFile("blobs", 3))) {
            @SuppressWarnings("unchecked")
            Map<String, Object> lineage = (Map<String, Object>) m.trainingInfo().get("lineage");
            assertEquals(TestData.BLOBS, lineage.get("dataset_sha256"));
            assertEquals((int) good, ((Number) lineage.get("job_id")).intValue());
            assertEquals(5, ((List<?>) lineage.get("epochs")).size());
            assertEquals("train", ((Map<?, ?>) lineage.get("job_spec")).get("type"));
            assertTrue(String.valueOf(lineage.get("code_version")).startsWith("dense4j "));
            assertTrue(lineage.containsKey("parent"));
        }
        assertEquals("job:" + good, registry.describe("blobs", 3).source());
        assertEquals("alice", registry.describe("blobs", 3).actor());
        List<String> kinds = s.events(good, 0, 1000).stream().map(Records.Event::kind).distinct().toList();
        assertTrue(kinds.containsAll(List.of("state", "phase", "epoch")), kinds.toString());
    }

    @Test
    void aTrainJobContinuesFromItsParentVersion() throws Exception {
        JobService s = service("s1", 2, Duration.ofSeconds(10));
        String adam = "{\"type\": \"adam\", \"learning_rate\": 0.01}";
        long base = s.submit(Json.parse(train(TestData.BLOBS, adam, 1, ", \"register_as\": \"blobs\"")), "u").id();
        await(s, base, JobState.SUCCEEDED, 60);
        long child = s.submit(Json.parse(train(TestData.BLOBS, adam, 1,
                ", \"register_as\": \"blobs\", \"parent\": {\"model\": \"blobs\", \"version\": 1}")), "u").id();
        JsonNode r = Json.parse(await(s, child, JobState.SUCCEEDED, 60).result());
        JsonNode e1 = Json.parse(s.get(base).orElseThrow().result()).at("/epochs/0/loss");
        assertTrue(r.at("/epochs/0/loss").asDouble() < 0.8 * e1.asDouble(), "starts from the parent's weights: " + r);
        try (Sequential m = Sequential.load(registry.modelFile("blobs", 2))) {
            Map<?, ?> lineage = (Map<?, ?>) m.trainingInfo().get("lineage");
            assertEquals(Map.of("model", "blobs", "version", 1), lineage.get("parent"));
        }
        long mismatch = s.submit(Json.parse(train(TestData.BLOBS, adam, 1, ", \"parent\": {\"model\": \"blobs\", \"version\": 1}")
                .replace("\"units\": 16", "\"units\": 17")), "u").id();
        Records.Job failed = awaitTerminal(s, mismatch);
        assertEquals(JobState.FAILED, failed.state());
        assertTrue(failed.error().contains("has layer sizes [8, 16, 3] but the config builds [8, 17, 3]"), failed.error());
    }

    Records.Job awaitTerminal(JobService s, long id) throws InterruptedException {
        for (int i = 0; i < 3000; i++) {
            Records.Job j = s.get(id).orElseThrow();
            if (j.state().terminal()) {
                return j;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("job " + id + " did not end");
    }

    @Test
    void aTuneJobRecordsEveryTrialAndRegistersTheRetrainedBest() throws Exception {
        JobService s = service("s1", 2, Duration.ofSeconds(10));
        String spec = """
                {"type": "tune", "dataset": {"sha256": "%s", "holdout": {"fraction": 0.2}},
                 "config": %s,
                 "tune": {"search_space": {"/model/compile_config/optimizer/learning_rate": {"type": "log_uniform", "min": 1e-3, "max": 1e-1},
                                           "/model/layers/0/units": {"type": "choice", "values": [4, 16]}},
                          "max_trials": 5, "max_parallel_trials": 2,
                          "early_stopping": {"type": "asha", "min_epochs": 1, "max_epochs": 3, "reduction_factor": 2}},
                 "resources": {"cpus": 2}, "register_as": "tuned"}""".formatted(TestData.BLOBS,
                config("{\"type\": \"adam\", \"learning_rate\": 0.01}", 3));
        long id = s.submit(Json.parse(spec), "carol").id();
        JsonNode r = Json.parse(await(s, id, JobState.SUCCEEDED, 120).result());
        List<Records.Trial> trials = store.trials(id);
        assertEquals(5, trials.size());
        assertTrue(trials.stream().allMatch(t -> List.of("completed", "stopped").contains(t.state())),
                trials.stream().map(Records.Trial::state).toList().toString());
        int best = r.get("best_trial").asInt();
        JsonNode bestTrial = Json.parse(trials.get(best).record());
        assertEquals(bestTrial.at("/params"), r.at("/tune/trials/" + best + "/params"));
        assertEquals(1, r.at("/registered/version").asInt());
        try (Sequential m = Sequential.load(registry.modelFile("tuned", 1))) {
            Map<?, ?> lineage = (Map<?, ?>) m.trainingInfo().get("lineage");
            assertEquals(5, ((List<?>) lineage.get("trials")).size());
            assertEquals(bestTrial.at("/params/~1model~1layers~10~1units").asInt(), m.architecture().sizes()[1]);
            assertEquals(480, ((Number) m.trainingInfo().get("training_rows")).intValue(), "retrained on every non-holdout row");
        }
    }

    /**
     * The lease of a running job looks expired to its own server when a heartbeat comes late (a stalled disk, a
     * busy machine; here the store's clock jumps past the lease): the server does not re-queue its live job, and the
     * next heartbeat renews the lease.
     */
    @Test
    void aLateHeartbeatDoesNotMakeTheServerRequeueItsOwnJob() throws Exception {
        TestClock clock = new TestClock();
        store = new JobStore(Database.sqlite(dir.resolve("late-heartbeat.db")), clock, 3);
        store.putDataset(new Records.Dataset(TestData.BIG, "blobs", "generated", 600, 8, 3, List.of("a", "b", "c"), "-", 1, 0, io.dense4j.service.job.JobRunner.ADMIN_OWNER));
        Duration lease = Duration.ofSeconds(10);
        JobService s = service("s1", 1, lease);
        long id = s.submit(Json.parse(train(TestData.BIG, "{\"type\": \"adam\", \"learning_rate\": 0.001}", 100_000, "")), "u").id();
        await(s, id, JobState.RUNNING, 30);
        while (s.get(id).orElseThrow().progress() == null) {
            Thread.sleep(20); // a first heartbeat: the job has started on its thread, the dispatcher is done with it
        }
        clock.advance(lease.plusSeconds(1)); // no heartbeat for longer than the lease, as far as the store can tell
        s.dispatchOnce(); // what the dispatcher thread does every 50 ms
        Records.Job j = s.get(id).orElseThrow();
        assertEquals(JobState.RUNNING, j.state());
        assertEquals(1, j.attempt(), "claimed once: its server kept it");
        assertFalse(store.events(id, 0, 1000).stream().anyMatch(e -> e.payload().contains("lease expired")),
                "nothing re-queued it");
        long renewedBy = clock.millis() + lease.toMillis() / 2;
        for (Records.Job now = store.job(id).orElseThrow(); now.leaseExpiresAt() < renewedBy; now = store.job(id).orElseThrow()) {
            assertEquals(JobState.RUNNING, now.state());
            Thread.sleep(20); // the next heartbeat (every 2.5 s) renews the lease from the store's clock
        }
        assertEquals(Records.CancelOutcome.REQUESTED, s.cancel(id));
        assertEquals(JobState.CANCELLED, awaitTerminal(s, id).state());
        assertEquals(1, s.get(id).orElseThrow().attempt());
    }

    /**
     * A tune job whose server died resumes its search elsewhere: the trials that had ended keep their first
     * attempt's records and are not run again, the rest run, and the search ends with the trials, best and
     * registered weights of the same job never interrupted.
     */
    @Test
    void aTuneJobWhoseServerDiedKeepsItsFinishedTrialsAndEndsAsTheUninterruptedOne() throws Exception {
        String spec = """
                {"type": "tune", "dataset": {"sha256": "%s", "holdout": {"fraction": 0.2}},
                 "config": %s,
                 "tune": {"search_space": {"/model/compile_config/optimizer/learning_rate": {"type": "log_uniform", "min": 1e-3, "max": 1e-1},
                                           "/model/layers/0/units": {"type": "int", "min": 4, "max": 24}},
                          "sampler": {"type": "random", "seed": 4}, "max_trials": 6, "max_parallel_trials": 1,
                          "early_stopping": {"type": "asha", "min_epochs": 1, "max_epochs": 4, "reduction_factor": 2}},
                 "register_as": "%s"}""";
        String config = config("{\"type\": \"adam\", \"learning_rate\": 0.01}", 4);
        JobService a = service("A", 1, Duration.ofMillis(1500), Duration.ZERO);
        long straight = a.submit(Json.parse(spec.formatted(TestData.BLOBS, config, "straight")), "u").id();
        JsonNode s = Json.parse(await(a, straight, JobState.SUCCEEDED, 120).result());

        AtomicInteger results = new AtomicInteger();
        long id = a.submit(Json.parse(spec.formatted(TestData.BLOBS, config, "resumed")), "u").id();
        a.addListener((job, kind, payload) -> {
            if (job == id && kind.equals("trial") && results.incrementAndGet() == 4) {
                a.crashForTest();
            }
        });
        long end = System.nanoTime() + 120_000_000_000L;
        while (results.get() < 4) {
            assertTrue(System.nanoTime() < end, "the job did not get to its fourth trial result");
            Thread.sleep(20);
        }
        List<Records.Trial> atCrash = store.trials(id);
        List<Integer> ended = atCrash.stream().filter(t -> List.of("completed", "stopped", "failed").contains(t.state()))
                .map(Records.Trial::trial).toList();
        assertTrue(atCrash.stream().anyMatch(t -> !ended.contains(t.trial())), "some trials had not ended: "
                + atCrash.stream().map(Records.Trial::state).toList());

        JobService b = service("B", 1, Duration.ofMillis(1500));
        Records.Job done = await(b, id, JobState.SUCCEEDED, 120);
        assertEquals(2, done.attempt());
        assertTrue(store.events(id, 0, 10_000).stream().anyMatch(e -> e.payload().contains("\"resuming\"")));
        JsonNode r = Json.parse(done.result());
        for (Records.Trial t : store.trials(id)) {
            if (ended.contains(t.trial())) {
                assertEquals(1, t.attempt(), "trial " + t.trial() + " had ended: kept, not run again");
            }
        }
        assertTrue(store.trials(id).stream().anyMatch(t -> t.attempt() == 2), "the others ran again");
        JsonNode st = s.at("/tune/trials");
        JsonNode rt = r.at("/tune/trials");
        assertEquals(st.size(), rt.size());
        for (int i = 0; i < st.size(); i++) {
            for (String f : List.of("id", "params", "state", "epochs", "score")) {
                assertEquals(st.get(i).get(f), rt.get(i).get(f), "trial " + i + " " + f);
            }
        }
        assertEquals(s.get("best_trial"), r.get("best_trial"));
        assertArrayEquals(registeredParameters("straight", 1), registeredParameters("resumed", 1));
    }

    /**
     * A tune job (2 trials, no halving) whose best trial's retrain uses early stopping (patience 3, best weights
     * restored) on a validation split, checkpointing every epoch.
     */
    static String retrainWithEarlyStoppingJob(String registerAs) {
        String cfg = config("{\"type\": \"adam\", \"learning_rate\": 0.03}", 60).replace(
                "\"fit\": {\"epochs\": 60, \"batch_size\": 16, \"seed\": 1}",
                "\"fit\": {\"epochs\": 60, \"batch_size\": 16, \"seed\": 1, \"validation_split\": 0.25, "
                        + "\"callbacks\": [{\"type\": \"early_stopping\", \"monitor\": \"val_loss\", \"patience\": 3, "
                        + "\"restore_best_weights\": true}]}");
        assertTrue(cfg.contains("early_stopping"));
        return """
                {"type": "tune", "dataset": {"sha256": "%s", "holdout": {"fraction": 0.2}}, "config": %s,
                 "tune": {"search_space": {"/model/layers/0/units": {"type": "choice", "values": [16, 12]}},
                          "max_trials": 2, "max_parallel_trials": 1}%s, "register_as": "%s"}"""
                .formatted(TestData.NOISY, cfg, EVERY_EPOCH, registerAs);
    }

    /**
     * The retrain of a tune job's best trial checkpoints like a train job: killed inside early stopping's patience
     * window, the job resumes its retrain elsewhere from the checkpoint (weights, optimizer, patience count, best
     * value and best weights), not from scratch, stops at the same epoch and registers the uninterrupted job's
     * weights, bit for bit.
     */
    @Test
    void aTuneJobKilledDuringItsRetrainResumesTheRetrainFromItsCheckpoint() throws Exception {
        JobService a = service("A", 1, Duration.ofMillis(1500), Duration.ZERO);
        long straight = a.submit(Json.parse(retrainWithEarlyStoppingJob("straight")), "u").id();
        JsonNode s = Json.parse(await(a, straight, JobState.SUCCEEDED, 180).result());
        int stoppedAfter = s.get("epochs").size();
        assertTrue(stoppedAfter < 60, "the retrain's early stopping must fire: " + stoppedAfter + " epochs");
        assertTrue(Json.parse(store.job(straight).orElseThrow().checkpoint()).get("stopped_early").asBoolean());
        PatienceWindow window = PatienceWindow.of(s.get("epochs"));
        int crashAt = window.crashAfter();
        int bestEpoch = window.bestEpoch();
        double best = window.best();

        long id = a.submit(Json.parse(retrainWithEarlyStoppingJob("resumed")), "u").id();
        // "epoch" events are the retrain's (trials send "trial_epoch")
        JsonNode ck = crashAfterEpochCheckpointed(a, id, crashAt, 180);
        assertEquals(s.get("best_trial").asInt(), ck.at("/retrain/trial").asInt(), ck.toString());
        assertEquals(60, ck.at("/retrain/epochs").asInt(), ck.toString());
        JsonNode state = ck.get("early_stopping").get("states").get(0);
        assertEquals(crashAt - bestEpoch, state.get("epochs_without_improvement").asInt(), ck.toString());
        assertEquals(best, state.get("best").asDouble());
        // the optimizer's state is in the checkpoint: the resumed retrain continues Adam, not a fresh one
        io.dense4j.model.ModelState saved = io.dense4j.io.ModelFile.read(Path.of(ck.get("path").asText()));
        assertTrue(saved.optimizer().step() > 0 && saved.optimizer().slots() != null);

        JobService b = service("B", 1, Duration.ofMillis(1500), Duration.ZERO);
        Records.Job done = await(b, id, JobState.SUCCEEDED, 180);
        assertEquals(2, done.attempt());
        String resumed = "the retrain of trial " + s.get("best_trial").asInt() + " from the checkpoint after epoch "
                + crashAt;
        assertTrue(store.events(id, 0, 100_000).stream().anyMatch(e -> e.payload().contains(resumed)), resumed);
        long secondAttempt = store.events(id, 0, 100_000).stream()
                .filter(e -> e.payload().contains("\"server\":\"B\"")).findFirst().orElseThrow().seq();
        long retrainedAgain = store.events(id, 0, 100_000).stream()
                .filter(e -> e.seq() > secondAttempt && e.kind().equals("epoch")).count();
        assertEquals(stoppedAfter - crashAt, retrainedAgain, "only the epochs after the checkpoint ran again");
        assertTrue(store.trials(id).stream().allMatch(t -> t.attempt() == 1), "the finished search was kept");
        JsonNode r = Json.parse(done.result());
        assertEquals(s.get("best_trial"), r.get("best_trial"));
        assertEquals(stoppedAfter, r.get("epochs").size(), "the retrain stops after the same epoch");
        assertArrayEquals(registeredParameters("straight", 1), registeredParameters("resumed", 1),
                "the best epoch's weights, bit for bit");
        assertEquals(s.get("metrics"), r.get("metrics"));
    }

    /**
     * A tune job (successive halving: the retrain trains the best trial for the epochs it was scored at; dropout)
     * killed during its retrain whose checkpoint cannot be its retrain's (its files are gone, or its record says it
     * is another trial's or another config's): the retrain starts again from scratch, and still registers the
     * uninterrupted job's weights.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"files deleted", "another trial's", "another config's"})
    void aTuneJobWhoseRetrainCheckpointIsNotItsRetrainsRetrainsFromScratchToTheSameWeights(String damage)
            throws Exception {
        String spec = withDropout("""
                {"type": "tune", "dataset": {"sha256": "%s", "holdout": {"fraction": 0.2}}, "config": %s,
                 "tune": {"search_space": {"/model/compile_config/optimizer/learning_rate": {"type": "log_uniform", "min": 1e-3, "max": 1e-1}},
                          "sampler": {"type": "random", "seed": 3}, "max_trials": 3, "max_parallel_trials": 1,
                          "early_stopping": {"type": "asha", "min_epochs": 2, "max_epochs": 4, "reduction_factor": 2}}%s,
                 "register_as": "%%s"}""".formatted(TestData.BLOBS, config("{\"type\": \"adam\", \"learning_rate\": 0.01}", 4),
                EVERY_EPOCH));
        JobService a = service("A", 1, Duration.ofMillis(1500), Duration.ZERO);
        long straight = a.submit(Json.parse(spec.formatted("straight")), "u").id();
        JsonNode s = Json.parse(await(a, straight, JobState.SUCCEEDED, 120).result());
        int retrainEpochs = s.get("epochs").size();
        assertTrue(retrainEpochs >= 2, s.get("epochs").toString());

        AtomicInteger crashed = new AtomicInteger();
        long id = a.submit(Json.parse(spec.formatted("resumed")), "u").id();
        a.addListener((job, kind, payload) -> {
            if (job == id && kind.equals("epoch") && Json.parse(payload).get("epoch").asInt() == 1
                    && crashed.getAndIncrement() == 0) {
                a.crashForTest();
            }
        });
        long end = System.nanoTime() + 120_000_000_000L;
        while (!(crashed.get() > 0 && store.job(id).orElseThrow().checkpoint() != null)) {
            assertTrue(System.nanoTime() < end, "no retrain checkpoint");
            Thread.sleep(20);
        }
        while (!a.runningHere().isEmpty()) { // A's job thread stops within a chunk: then no file is written any more
            assertTrue(System.nanoTime() < end, "A's job thread did not stop");
            Thread.sleep(20);
        }
        JsonNode ck = Json.parse(store.job(id).orElseThrow().checkpoint());
        assertEquals(retrainEpochs, ck.at("/retrain/epochs").asInt(), "the epochs the best trial was scored at");
        switch (damage) {
            case "files deleted" -> {
                try (var files = java.nio.file.Files.list(Path.of(ck.get("path").asText()).getParent())) {
                    for (Path f : files.filter(f -> f.getFileName().toString().startsWith("checkpoint")).toList()) {
                        java.nio.file.Files.delete(f);
                    }
                }
            }
            case "another trial's" -> forgeCheckpoint(id, ck, "trial", ck.at("/retrain/trial").asInt() + 1);
            default -> forgeCheckpoint(id, ck, "config_sha256", "0".repeat(64));
        }
        JobService b = service("B", 1, Duration.ofMillis(1500));
        Records.Job done = await(b, id, JobState.SUCCEEDED, 120);
        assertEquals(2, done.attempt());
        assertFalse(store.events(id, 0, 100_000).stream().anyMatch(e -> e.payload().contains("from the checkpoint")),
                "nothing to resume the retrain from: it started again");
        assertEquals(retrainEpochs, Json.parse(done.result()).get("epochs").size());
        assertArrayEquals(registeredParameters("straight", 1), registeredParameters("resumed", 1));
    }

    /** Rewrites a running job's checkpoint record (its attempt 1's) with one field of its retrain tag changed. */
    void forgeCheckpoint(long id, JsonNode ck, String field, Object value) {
        com.fasterxml.jackson.databind.node.ObjectNode forged = ck.deepCopy();
        com.fasterxml.jackson.databind.node.ObjectNode tag = (com.fasterxml.jackson.databind.node.ObjectNode) forged.get("retrain");
        if (value instanceof Integer i) {
            tag.put(field, i);
        } else {
            tag.put(field, value.toString());
        }
        assertTrue(store.checkpoint(new Records.Claim(id, "A", 1), forged.toString()), "the job is still A's attempt 1");
    }

    @Test
    void cancellingARunningJobStopsItWithinAChunkAndFreesItsThreads() throws Exception {
        JobService s = service("s1", 1, Duration.ofSeconds(10));
        long id = s.submit(Json.parse(train(TestData.BIG, "{\"type\": \"adam\", \"learning_rate\": 0.001}", 100_000, "")), "u").id();
        long queued = s.submit(Json.parse(train(TestData.BLOBS, "{\"type\": \"adam\", \"learning_rate\": 0.01}", 1, "")), "u").id();
        await(s, id, JobState.RUNNING, 30);
        assertEquals(JobState.QUEUED, s.get(queued).orElseThrow().state(), "one thread: the second job waits");
        // the latest progress (epoch, step, loss, accuracy, ETA) reaches the job's row with the heartbeats
        while (s.get(id).orElseThrow().progress() == null) {
            Thread.sleep(20);
        }
        JsonNode progress = Json.parse(s.get(id).orElseThrow().progress());
        assertTrue(progress.has("eta_seconds") && progress.has("loss"), progress.toString());
        long t0 = System.nanoTime();
        assertEquals(Records.CancelOutcome.REQUESTED, s.cancel(id));
        Records.Job j = awaitTerminal(s, id);
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertEquals(JobState.CANCELLED, j.state());
        assertTrue(seconds < 10, "stopped after " + seconds + " s");
        await(s, queued, JobState.SUCCEEDED, 60); // its thread went to the next job
        assertEquals(Records.CancelOutcome.ALREADY_FINISHED, s.cancel(id));
    }

    /** Server A dies after two epochs; server B re-queues the job when A's lease expires and resumes it. */
    /** The same job with a dropout layer after the hidden one. */
    static String withDropout(String job) {
        String hidden = "{\"type\": \"dense\", \"units\": 16, \"activation\": \"relu\"},";
        assertTrue(job.contains(hidden));
        return job.replace(hidden, hidden + " {\"type\": \"dropout\", \"rate\": 0.3},");
    }

    float[] registeredParameters(String model, int version) {
        try (Sequential m = Sequential.load(registry.modelFile(model, version))) {
            return m.parameters();
        }
    }

    @ParameterizedTest(name = "dropout {0}")
    @ValueSource(booleans = {false, true})
    void aJobWhoseServerDiedResumesFromItsCheckpointElsewhere(boolean dropout) throws Exception {
        JobService a = service("A", 1, Duration.ofMillis(1500));
        AtomicInteger crashed = new AtomicInteger();
        a.addListener((job, kind, payload) -> {
            if (kind.equals("epoch") && Json.parse(payload).get("epoch").asInt() == 2 && crashed.getAndIncrement() == 0) {
                a.crashForTest();
            }
        });
        String job = train(TestData.BLOBS, "{\"type\": \"adam\", \"learning_rate\": 0.01}", 6, EVERY_EPOCH);
        job = dropout ? withDropout(job) : job;
        long id = a.submit(Json.parse(job.replaceFirst("}$", ", \"register_as\": \"resumed\"}")), "u").id();
        while (crashed.get() == 0) {
            Thread.sleep(10);
        }
        Thread.sleep(300);
        Records.Job mid = store.job(id).orElseThrow();
        assertEquals(JobState.RUNNING, mid.state(), "only the lease says A is gone");
        assertEquals(2, Json.parse(mid.checkpoint()).get("epochs").asInt());
        assertFalse(mid.checkpoint().contains("history"), "the epochs' metrics are events, not the checkpoint");
        // the checkpoint carries Adam's moments, so the resumed run continues the optimizer, not a fresh one
        io.dense4j.model.ModelState saved = io.dense4j.io.ModelFile.read(
                Path.of(Json.parse(mid.checkpoint()).get("path").asText()));
        float[] moments = saved.optimizer().slots();
        assertTrue(moments != null
                && moments.length == io.dense4j.optim.OptimizerState.SLOTS * saved.parameters().length,
                "optimizer buffers for every weight: " + (moments == null ? "none" : moments.length + " for "
                + saved.parameters().length));
        assertTrue(saved.optimizer().step() > 0);
        int n = saved.parameters().length;
        double firstMoments = 0;
        double secondMoments = 0;
        for (int i = 0; i < n; i++) {
            firstMoments += Math.abs(moments[i]);
            secondMoments += moments[n + i];
        }
        assertTrue(firstMoments > 0 && secondMoments > 0, "Adam's moments were trained, not zero");
        JobService b = service("B", 1, Duration.ofMillis(1500));
        Records.Job done = await(b, id, JobState.SUCCEEDED, 60);
        assertEquals(2, done.attempt());
        assertEquals("B", store.events(id, 0, 1000).stream().filter(e -> e.kind().equals("state")
                && e.payload().contains("running")).reduce((x, y) -> y).map(e -> Json.parse(e.payload()).get("server").asText())
                .orElseThrow());
        JsonNode r = Json.parse(done.result());
        assertEquals(6, r.get("epochs").size());
        for (int e = 0; e < 6; e++) {
            assertEquals(e + 1, r.get("epochs").get(e).get("epoch").asInt());
        }
        assertTrue(store.events(id, 0, 1000).stream().anyMatch(e -> e.payload().contains("\"resuming\"")));
        assertEquals(List.of(1), registry.versionNumbers("resumed"), "registered once");

        // the same job uninterrupted: the same weights, bit for bit (shuffles and dropout masks of epochs 3..6 are
        // those the uninterrupted run draws), and the same metrics per epoch in both lineages
        long straight = b.submit(Json.parse(job.replaceFirst("}$", ", \"register_as\": \"straight\"}")), "u").id();
        JsonNode s = Json.parse(await(b, straight, JobState.SUCCEEDED, 60).result());
        assertArrayEquals(registeredParameters("straight", 1), registeredParameters("resumed", 1));
        for (int e = 0; e < 6; e++) {
            assertEquals(s.get("epochs").get(e).get("loss").asDouble(), r.get("epochs").get(e).get("loss").asDouble(),
                    "epoch " + (e + 1) + " loss");
        }
        try (Sequential m = Sequential.load(registry.modelFile("resumed", 1))) {
            Object epochs = ((Map<?, ?>) m.trainingInfo().get("lineage")).get("epochs");
            assertEquals(6, ((List<?>) epochs).size(), "lineage keeps every epoch: " + epochs);
        }
    }

    /**
     * A job that trained and registered but whose end the store cannot write (a full disk, a lost database; here a
     * trigger refuses the first attempt's "succeeded") is not marked failed: it did its work. Its lease runs out, it
     * is queued again, and the next attempt finds the version the first registered: one version, the job succeeded.
     */
    @Test
    void aJobWhoseEndCannotBeStoredIsTakenUpAgainAndRegistersNothingTwice() throws Exception {
        try (java.sql.Connection c = store.database().connect(); java.sql.Statement st = c.createStatement()) {
            st.execute("CREATE TRIGGER first_end_not_stored BEFORE UPDATE OF state ON jobs "
                    + "WHEN NEW.state = 'succeeded' AND OLD.attempt = 1 BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END");
        }
        JobService s = service("s1", 1, Duration.ofMillis(1500));
        String promote = ", \"register_as\": \"unsaved\", \"promote\": \"if_better\", \"promote_metric\": \"loss\"";
        long id = s.submit(Json.parse(train(TestData.BLOBS, "{\"type\": \"adam\", \"learning_rate\": 0.01}", 2,
                promote)), "alice").id();
        Records.Job done = await(s, id, JobState.SUCCEEDED, 60);
        assertEquals(2, done.attempt(), "the first attempt's end was refused, so a second attempt ended it");
        List<Records.Event> events = store.events(id, 0, 1000);
        List<String> states = events.stream().filter(e -> e.kind().equals("state"))
                .map(e -> Json.parse(e.payload()).path("state").asText()).toList();
        assertFalse(states.contains("failed"), states.toString());
        assertTrue(events.stream().anyMatch(e -> e.kind().equals("state") && e.payload().contains("lease expired")),
                "queued again when the first attempt's lease ran out");
        assertTrue(events.stream().anyMatch(e -> e.payload().contains("already registered by an earlier attempt")));
        assertEquals(List.of(1), registry.versionNumbers("unsaved"), "registered once");
        assertEquals("job:" + id, registry.describe("unsaved", 1).source());
        JsonNode r = Json.parse(done.result());
        assertEquals(1, r.at("/registered/version").asInt(), r.toString());
        assertEquals(1, registry.resolveAlias("unsaved", "stable").orElseThrow());
        assertEquals(2, r.get("epochs").size());
    }

    /** A train job whose early stopping (patience 3, best weights restored) fires well before its 60 epochs. */
    static String earlyStoppingJob(String registerAs) {
        String cfg = config("{\"type\": \"adam\", \"learning_rate\": 0.03}", 60).replace(
                "\"fit\": {\"epochs\": 60, \"batch_size\": 16, \"seed\": 1}",
                "\"fit\": {\"epochs\": 60, \"batch_size\": 16, \"seed\": 1, \"validation_split\": 0.25, "
                        + "\"callbacks\": [{\"type\": \"early_stopping\", \"monitor\": \"val_loss\", \"patience\": 3, "
                        + "\"restore_best_weights\": true}]}");
        assertTrue(cfg.contains("early_stopping"));
        return "{\"type\": \"train\", \"dataset\": {\"sha256\": \"" + TestData.NOISY + "\", \"holdout\": "
                + "{\"fraction\": 0.2}}, \"config\": " + cfg + EVERY_EPOCH + ", \"register_as\": \"" + registerAs + "\"}";
    }

    /**
     * Killed inside early stopping's patience window and resumed elsewhere, a job stops at the epoch, with the
     * weights, of the same job never interrupted: the checkpoint kept the patience count, the best value and the
     * best weights.
     */
    @Test
    void aJobKilledInsideAPatienceWindowStopsWhereTheUninterruptedOneDid() throws Exception {
        JobService a = service("A", 1, Duration.ofMillis(1500));
        long straight = a.submit(Json.parse(earlyStoppingJob("straight")), "u").id();
        JsonNode s = Json.parse(await(a, straight, JobState.SUCCEEDED, 120).result());
        int stoppedAfter = s.get("epochs").size();
        assertTrue(stoppedAfter < 60, "early stopping must fire: " + stoppedAfter + " epochs");
        PatienceWindow window = PatienceWindow.of(s.get("epochs"));
        int crashAt = window.crashAfter();
        int bestEpoch = window.bestEpoch();
        double best = window.best();

        long id = a.submit(Json.parse(earlyStoppingJob("resumed")), "u").id();
        JsonNode ck = crashAfterEpochCheckpointed(a, id, crashAt, 120);
        JsonNode state = ck.get("early_stopping").get("states").get(0);
        assertEquals(crashAt - bestEpoch, state.get("epochs_without_improvement").asInt(), ck.toString());
        assertEquals(bestEpoch - 1, state.get("best_epoch").asInt());
        assertEquals(best, state.get("best").asDouble());
        assertTrue(java.nio.file.Files.isRegularFile(Path.of(ck.get("early_stopping").get("weights_file").asText())));

        JobService b = service("B", 1, Duration.ofMillis(1500));
        Records.Job done = await(b, id, JobState.SUCCEEDED, 120);
        assertEquals(2, done.attempt());
        assertTrue(store.events(id, 0, 1000).stream().anyMatch(e -> e.payload().contains("\"resuming\"")));
        JsonNode r = Json.parse(done.result());
        assertEquals(stoppedAfter, r.get("epochs").size(), "stops after the same epoch");
        assertTrue(Json.parse(done.checkpoint()).get("stopped_early").asBoolean());
        assertArrayEquals(registeredParameters("straight", 1), registeredParameters("resumed", 1),
                "the best epoch's weights, bit for bit");
        assertEquals(s.get("metrics"), r.get("metrics"));
    }

    /**
     * The default checkpoint interval (30 s) is far longer than these jobs: a job checkpoints once, after its last
     * epoch, and its epochs' events are still all in the log. A server dying before that leaves no checkpoint: the
     * job starts again from its first epoch and still ends with the uninterrupted run's weights.
     */
    @Test
    void withAnIntervalLongerThanTheJobItCheckpointsOnlyAtTheEndAndStillResumesExactly() throws Exception {
        JobService a = service("A", 1, Duration.ofMillis(1500), Duration.ZERO);
        AtomicInteger crashed = new AtomicInteger();
        java.util.concurrent.CompletableFuture<String> checkpointAtCrash = new java.util.concurrent.CompletableFuture<>();
        a.addListener((job, kind, payload) -> {
            if (kind.equals("epoch") && Json.parse(payload).get("epoch").asInt() >= 4 && crashed.getAndIncrement() == 0) {
                String ck = store.job(job).orElseThrow().checkpoint();
                a.crashForTest();
                checkpointAtCrash.complete(String.valueOf(ck));
            }
        });
        String job = withDropout(train(TestData.BLOBS, "{\"type\": \"adam\", \"learning_rate\": 0.01}", 8, ""));
        long id = a.submit(Json.parse(job.replaceFirst("}$", ", \"register_as\": \"late\"}")), "u").id();
        assertEquals("null", checkpointAtCrash.get(60, java.util.concurrent.TimeUnit.SECONDS),
                "no checkpoint before the end of the job");
        JobService b = service("B", 1, Duration.ofMillis(1500));
        Records.Job done = await(b, id, JobState.SUCCEEDED, 60);
        assertEquals(2, done.attempt());
        assertEquals(8, Json.parse(done.checkpoint()).get("epochs").asInt(), "the last epoch is checkpointed");
        assertFalse(store.events(id, 0, 1000).stream().anyMatch(e -> e.payload().contains("\"resuming\"")),
                "nothing to resume from: it started again");
        JsonNode r = Json.parse(done.result());
        assertEquals(8, r.get("epochs").size());
        long logged = store.events(id, 0, 1000).stream().filter(e -> e.kind().equals("epoch")
                && e.seq() > store.events(id, 0, 1000).stream().filter(x -> x.payload().contains("\"server\":\"B\""))
                .findFirst().orElseThrow().seq()).count();
        assertEquals(8, logged, "every epoch of the second attempt is in the log, once");

        long straight = b.submit(Json.parse(job.replaceFirst("}$", ", \"register_as\": \"straight\"}")), "u").id();
        await(b, straight, JobState.SUCCEEDED, 60);
        assertArrayEquals(registeredParameters("straight", 1), registeredParameters("late", 1));
    }

    @Test
    void eachCheckpointWritesABoundedRecordWhateverTheEpochCount() throws Exception {
        JobService s = service("S", 1, Duration.ofSeconds(30));
        List<Integer> records = new java.util.concurrent.CopyOnWriteArrayList<>();
        List<Long> files = new java.util.concurrent.CopyOnWriteArrayList<>();
        s.addListener((job, kind, payload) -> {
            if (kind.equals("epoch")) { // the previous epoch's checkpoint, as stored
                String ck = store.job(job).orElseThrow().checkpoint();
                if (ck != null) {
                    records.add(ck.length());
                    try {
                        files.add(java.nio.file.Files.size(Path.of(Json.parse(ck).get("path").asText())));
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                }
            }
        });
        int epochs = 120;
        long id = s.submit(Json.parse(train(TestData.BLOBS, "{\"type\": \"sgd\", \"learning_rate\": 0.01}", epochs,
                ", \"register_as\": \"long\"" + EVERY_EPOCH)), "u").id();
        JsonNode r = Json.parse(await(s, id, JobState.SUCCEEDED, 120).result());
        assertEquals(epochs - 1, records.size());
        // the record grows only by the digits of the epoch count (was: the whole history, quadratic over a job)
        assertTrue(records.get(records.size() - 1) - records.get(0) <= 2, "checkpoint records: " + records);
        assertTrue(records.stream().allMatch(n -> n < 300), "checkpoint records: " + records);
        assertEquals(1, files.stream().distinct().count(), "checkpoint files of one size: " + files);
        assertEquals(epochs, r.get("epochs").size());
        try (Sequential m = Sequential.load(registry.modelFile("long", 1))) {
            List<?> lineage = (List<?>) ((Map<?, ?>) m.trainingInfo().get("lineage")).get("epochs");
            assertEquals(epochs, lineage.size());
            assertEquals(epochs, ((Map<?, ?>) lineage.get(epochs - 1)).get("epoch"));
        }
    }

    @Test
    void eachJobTrainsOnATeamOfItsOwnCpusWhileAnotherRuns() throws Exception {
        JobService s = service("T", 3, Duration.ofSeconds(30));
        // wide enough that the kernels split their products across a team
        String job = train(TestData.BIG, "{\"type\": \"adam\", \"learning_rate\": 0.001}", 2, "")
                .replace("\"units\": 16", "\"units\": 512").replace("\"batch_size\": 16", "\"batch_size\": 256");
        long two = s.submit(Json.parse(job.replaceFirst("}$", ", \"resources\": {\"cpus\": 2}, \"register_as\": \"two\"}")),
                "u").id();
        long one = s.submit(Json.parse(job.replaceFirst("}$", ", \"resources\": {\"cpus\": 1}, \"register_as\": \"one\"}")),
                "v").id();
        boolean together = false;
        while (!(s.get(two).orElseThrow().state().terminal() && s.get(one).orElseThrow().state().terminal())) {
            together |= s.get(two).orElseThrow().state() == JobState.RUNNING && s.get(one).orElseThrow().state() == JobState.RUNNING;
            Thread.sleep(5);
        }
        assertTrue(together, "the two jobs ran at the same time");
        JsonNode t2 = Json.parse(await(s, two, JobState.SUCCEEDED, 1).result()).get("cpu_threads");
        JsonNode t1 = Json.parse(await(s, one, JobState.SUCCEEDED, 1).result()).get("cpu_threads");
        assertEquals(2, t2.get("team").asInt(), t2.toString());
        assertEquals(1, t1.get("team").asInt(), t1.toString());
        // neither job's regions went serial because the other held a shared pool
        assertEquals(0, t2.get("regions_serial_for_another_thread").asLong(), t2.toString());
        assertEquals(0, t1.get("regions_serial_for_another_thread").asLong(), t1.toString());
        assertEquals(0, t1.get("parallel_regions").asLong(), "a team of one runs every region itself: " + t1);
        if (Runtime.getRuntime().availableProcessors() >= 2) {
            assertTrue(t2.get("parallel_regions").asLong() > 0, "the 2-thread team ran regions in parallel: " + t2);
        }
        // the thread count changes nothing in the result
        assertArrayEquals(registeredParameters("one", 1), registeredParameters("two", 1));
    }

    /**
     * Each job's data passed the memory limit alone at submission; jobs running together must pass it together, or
     * two jobs each holding half of the machine's memory took all of it. With room for one, the second waits for the
     * first (the cpus would let both run); with room for both, they run at once.
     */
    @Test
    void jobsWhoseDataTogetherWouldPassTheMemoryLimitRunOneAfterTheOther() throws Exception {
        JobService s = service("M", 2, Duration.ofSeconds(30));
        // one train job here holds 2 copies of 600 rows x (8 features + a label) x 4 bytes = 43,200 bytes
        s.dataMemoryLimitForTest(50_000);
        String job = train(TestData.BLOBS, "{\"type\": \"adam\", \"learning_rate\": 0.01}", 1000, "");
        boolean[] seen = runTwo(s, job);
        assertFalse(seen[0], "the two jobs ran at the same time");
        assertTrue(seen[1], "one job waited for the other's memory");
        s.dataMemoryLimitForTest(100_000);
        seen = runTwo(s, job);
        assertTrue(seen[0], "with room for both, the two jobs ran at the same time");
    }

    /** Submits {@code job} twice; returns whether both ran at once, and whether one was queued while the other ran. */
    private boolean[] runTwo(JobService s, String job) throws Exception {
        long a = s.submit(Json.parse(job), "u").id();
        long b = s.submit(Json.parse(job), "v").id();
        boolean together = false;
        boolean waited = false;
        while (!(s.get(a).orElseThrow().state().terminal() && s.get(b).orElseThrow().state().terminal())) {
            // two reads are two moments: a finishing between them and b starting read as "both running" (CI saw it).
            // Both ran at once only when one was running before and after a read that found the other running.
            boolean a1 = s.get(a).orElseThrow().state() == JobState.RUNNING;
            JobState y = s.get(b).orElseThrow().state();
            JobState x = s.get(a).orElseThrow().state();
            boolean b2 = s.get(b).orElseThrow().state() == JobState.RUNNING;
            together |= (a1 && y == JobState.RUNNING && x == JobState.RUNNING)
                    || (y == JobState.RUNNING && x == JobState.RUNNING && b2);
            waited |= (x == JobState.RUNNING && y == JobState.QUEUED) || (y == JobState.RUNNING && x == JobState.QUEUED);
            Thread.sleep(2);
        }
        await(s, a, JobState.SUCCEEDED, 1);
        await(s, b, JobState.SUCCEEDED, 1);
        return new boolean[] {together, waited};
    }

    @Test
    void anEvaluateJobScoresARegisteredVersion() throws Exception {
        JobService s = service("s1", 1, Duration.ofSeconds(10));
        long t = s.submit(Json.parse(train(TestData.BLOBS, "{\"type\": \"adam\", \"learning_rate\": 0.01}", 3,
                ", \"register_as\": \"m\", \"promote\": \"if_better\"")), "u").id();
        await(s, t, JobState.SUCCEEDED, 60);
        long e = s.submit(Json.parse("{\"type\": \"evaluate\", \"dataset\": {\"sha256\": \"" + TestData.BLOBS
                + "\"}, \"model\": {\"model\": \"m\", \"version\": \"stable\"}}"), "u").id();
        JsonNode r = Json.parse(await(s, e, JobState.SUCCEEDED, 60).result());
        assertEquals(1, r.at("/model/version").asInt());
        assertEquals(600, r.at("/evaluation/rows").asInt());
        assertTrue(r.at("/evaluation/accuracy").asDouble() > 0.7, r.toString());
        long wrong = s.submit(Json.parse("{\"type\": \"evaluate\", \"dataset\": {\"sha256\": \"" + TestData.WIDE
                + "\"}, \"model\": {\"model\": \"m\"}}"), "u").id();
        Records.Job failed = awaitTerminal(s, wrong);
        assertEquals(JobState.FAILED, failed.state());
        assertTrue(failed.error().contains("takes 8 features; the data set has 12"), failed.error());
    }

    @Test
    void badSubmissionsAreRefusedBeforeAnythingIsQueued() {
        JobService s = service("s1", 2, Duration.ofSeconds(10));
        assertThrows(ConfigException.class, () -> s.submit(Json.parse("{\"type\": \"train\"}"), "u"));
        ImpossibleRequestException big = assertThrows(ImpossibleRequestException.class, () -> s.submit(Json.parse(
                train(TestData.BLOBS, "{\"type\": \"adam\", \"learning_rate\": 0.01}", 1, ", \"resources\": {\"cpus\": 3}")), "u"));
        assertTrue(big.getMessage().contains("at most 2"), big.getMessage());
        assertThrows(ImpossibleRequestException.class, () -> s.submit(Json.parse(
                train(TestData.BLOBS, "{\"type\": \"adam\", \"learning_rate\": 0.01}", 1, ", \"resources\": {\"gpus\": 1}")), "u"));
        StoreException unknown = assertThrows(StoreException.class, () -> s.submit(Json.parse(
                train("e".repeat(64), "{\"type\": \"adam\", \"learning_rate\": 0.01}", 1, "")), "u"));
        assertEquals(StoreException.Kind.NOT_FOUND, unknown.kind());
        // copies of a data set held at once: a search's workers each keep k folds' worth
        String huge = "9".repeat(64);
        store.putDataset(new Records.Dataset(huge, "huge", "csv", 10_000_000, 784, 10,
                java.util.stream.IntStream.range(0, 10).mapToObj(Integer::toString).toList(), "-", 1, 0, io.dense4j.service.job.JobRunner.ADMIN_OWNER));
        String tune = """
                {"type": "tune", "dataset": {"sha256": "%s"}, "config": %s,
                 "tune": {"search_space": {"/model/layers/0/units": {"type": "int", "min": 4, "max": 64}},
                          "max_trials": 16, "max_parallel_trials": 2, "objective": {"type": "kfold", "k": 10}},
                 "resources": {"cpus": 2}}""";
        ConfigException copies = assertThrows(ConfigException.class, () -> s.submit(Json.parse(tune.formatted(huge,
                config("{\"type\": \"adam\", \"learning_rate\": 0.01}", 1))), "u"));
        assertTrue(copies.getMessage().contains("22 copies of its data set"), copies.getMessage());
        assertEquals(22, JobService.dataCopies(JobSpec.parse(Json.parse(tune.formatted(TestData.BLOBS,
                config("{\"type\": \"adam\", \"learning_rate\": 0.01}", 1))))));
        String urgent = train(TestData.BLOBS, "{\"type\": \"adam\", \"learning_rate\": 0.01}", 1, ", \"priority\": 1");
        ForbiddenException ahead = assertThrows(ForbiddenException.class, () -> s.submit(Json.parse(urgent), "u"));
        assertTrue(ahead.getMessage().contains("admin"), ahead.getMessage());
        assertTrue(s.list(null, null, null, 10).isEmpty());
        // below the bar a token orders its own jobs; above it is the admin's
        assertEquals(-5, s.submit(Json.parse(urgent.replace("\"priority\": 1", "\"priority\": -5")), "u").priority());
        assertEquals(1, s.submit(Json.parse(urgent), JobRunner.ADMIN_OWNER).priority());
    }

    /** Parallel submits of one owner cannot pass its limit of queued jobs (they all read one count, then all went in). */
    @Test
    void parallelSubmitsKeepTheQueuedLimit() throws Exception {
        JobService.Settings d = new JobService.Settings("s1", Capacity.of(2, List.of(), 0), 10, dir.resolve("work"),
                Duration.ofSeconds(10), Duration.ofSeconds(2), Duration.ofMillis(50));
        int limit = 3;
        JobService s = new JobService(store, new JobRunner(registry, TestData.resolver(), registry::setAlias),
                new JobService.Settings(d.serverId(), d.capacity(), d.maxRunningPerOwner(), d.workRoot(), d.lease(),
                        d.heartbeat(), d.poll(), limit, d.jobNice(), d.checkpointInterval(), d.eventInterval()));
        services.add(s); // not started: the jobs stay queued
        String spec = train(TestData.BLOBS, "{\"type\": \"adam\", \"learning_rate\": 0.01}", 1, "");
        int threads = 12;
        java.util.concurrent.CyclicBarrier go = new java.util.concurrent.CyclicBarrier(threads);
        AtomicInteger accepted = new AtomicInteger();
        AtomicInteger refused = new AtomicInteger();
        List<Thread> ts = new java.util.ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Thread th = new Thread(() -> {
                try {
                    go.await();
                    s.submit(Json.parse(spec), "u");
                    accepted.incrementAndGet();
                } catch (io.dense4j.service.QuotaException e) {
                    refused.incrementAndGet();
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            th.start();
            ts.add(th);
        }
        for (Thread th : ts) {
            th.join();
        }
        assertEquals(limit, accepted.get());
        assertEquals(threads - limit, refused.get());
        assertEquals(limit, store.count("u", JobState.QUEUED));
    }

    /**
     * Crashes {@code service} (as a killed server) when job {@code id} reports epoch {@code crashAt}, and returns the
     * job's checkpoint record once it is the one after that epoch.
     */
    private JsonNode crashAfterEpochCheckpointed(JobService service, long id, int crashAt, long timeoutSeconds)
            throws InterruptedException {
        AtomicInteger crashed = new AtomicInteger();
        service.addListener((job, kind, payload) -> {
            if (job == id && kind.equals("epoch") && Json.parse(payload).get("epoch").asInt() == crashAt
                    && crashed.getAndIncrement() == 0) {
                service.crashForTest();
            }
        });
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
        while (!(crashed.get() > 0 && store.job(id).orElseThrow().checkpoint() != null
                && Json.parse(store.job(id).orElseThrow().checkpoint()).get("epochs").asInt() == crashAt)) {
            assertTrue(System.nanoTime() < end, "no checkpoint after epoch " + crashAt + ": "
                    + store.job(id).orElseThrow().checkpoint());
            assertFalse(store.job(id).orElseThrow().state().terminal());
            Thread.sleep(20);
        }
        return Json.parse(store.job(id).orElseThrow().checkpoint());
    }

    /**
     * Early stopping replayed on a straight run's logged validation losses: the last epoch inside its final patience
     * window whose best epoch came before it (a crash there needs the count, the best value and the best weights).
     */
    private record PatienceWindow(int crashAfter, int bestEpoch, double best) {
        static PatienceWindow of(JsonNode epochs) {
            int stoppedAfter = epochs.size();
            double best = Double.POSITIVE_INFINITY;
            int bestEpoch = -1;
            int crashAfter = -1;
            for (int e = 1; e <= stoppedAfter; e++) {
                double v = epochs.get(e - 1).get("val_loss").asDouble();
                if (v < best) {
                    best = v;
                    bestEpoch = e;
                } else if (e < stoppedAfter && e > bestEpoch) {
                    crashAfter = e;
                }
            }
            assertTrue(crashAfter > bestEpoch && crashAfter < stoppedAfter, "no epoch inside the last patience "
                    + "window: " + epochs);
            return new PatienceWindow(crashAfter, bestEpoch, best);
        }
    }
}
