package io.dense4j.service.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dense4j.service.job.JobState;
import io.dense4j.service.store.Records.CancelOutcome;
import io.dense4j.service.store.Records.Claim;
import io.dense4j.service.store.Records.Dataset;
import io.dense4j.service.store.Records.Event;
import io.dense4j.service.store.Records.Job;
import io.dense4j.service.store.Records.NewJob;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The same behaviour checked on every database the store supports. */
abstract class JobStoreContract {
    static final Duration LEASE = Duration.ofSeconds(30);
    static final String SHA = "a".repeat(64);

    /** A new empty database for one test. */
    abstract Database newDatabase();

    /** What a child JVM passes to {@link ClaimChild} to reach the same database. */
    abstract String childArgument(Database db);

    final TestClock clock = new TestClock();

    JobStore store(Database db) {
        return new JobStore(db, clock, 2);
    }

    static Dataset dataset(String sha) {
        return new Dataset(sha, "fashion", "idx", 60000, 784, 10, List.of("T-shirt", "Trouser"), "/srv/ds/" + sha,
                1234, 1, "trainer");
    }

    static NewJob job(String owner, int priority) {
        return new NewJob("train", owner, priority, 1, 0, SHA, "{\"type\":\"train\"}");
    }

    @Test
    void migrationsAreRecordedOnceAndANewerSchemaIsRefused() throws Exception {
        Database db = newDatabase();
        assertEquals(java.util.stream.IntStream.rangeClosed(1, Migrations.latest()).boxed().toList(), Migrations.migrate(db),
                "every migration, in order, on a new database");
        assertTrue(Migrations.latest() >= 3, "migration 3 holds the federated tables");
        assertEquals(List.of(), Migrations.migrate(db));
        store(db); // opening again is fine
        try (Connection c = db.connect(); Statement st = c.createStatement()) {
            st.execute("INSERT INTO schema_version VALUES (99, 'from the future', 'x', 0)");
        }
        StoreException e = assertThrows(StoreException.class, () -> Migrations.migrate(db));
        assertTrue(e.getMessage().contains("schema version 99, newer than this Dense4J knows"), e.getMessage());
        try (Connection c = db.connect(); Statement st = c.createStatement()) {
            st.execute("DELETE FROM schema_version WHERE version = 99");
            st.execute("UPDATE schema_version SET checksum = 'edited' WHERE version = 1");
        }
        e = assertThrows(StoreException.class, () -> Migrations.migrate(db));
        assertTrue(e.getMessage().contains("was changed after it was applied"), e.getMessage());
    }

    @Test
    void datasetsAreContentAddressedAndCannotBeDeletedUnderAJob() {
        JobStore s = store(newDatabase());
        s.putDataset(dataset(SHA));
        Dataset again = s.putDataset(new Dataset(SHA, "other name", "csv", 1, 1, 1, List.of(), "/x", 1, 2, "x"));
        assertEquals("fashion", again.name(), "the first record of a content hash is kept");
        assertEquals(List.of("T-shirt", "Trouser"), s.dataset(SHA).orElseThrow().classNames());
        StoreException unknown = assertThrows(StoreException.class, () -> s.insertJob(
                new NewJob("train", "u", 0, 1, 0, "b".repeat(64), "{}")));
        assertEquals(StoreException.Kind.NOT_FOUND, unknown.kind());
        Job j = s.insertJob(job("u", 0));
        StoreException inUse = assertThrows(StoreException.class, () -> s.deleteDataset(SHA));
        assertEquals(StoreException.Kind.CONFLICT, inUse.kind());
        assertTrue(inUse.getMessage().contains("used by job " + j.id() + ";"), inUse.getMessage());
        Claim c = s.claim(j.id(), "s1", LEASE).orElseThrow();
        assertThrows(StoreException.class, () -> s.deleteDataset(SHA));
        assertTrue(s.finish(c, JobState.SUCCEEDED, "{}", null));
        assertEquals(SHA, s.deleteDataset(SHA).sha256());
        assertEquals(StoreException.Kind.NOT_FOUND, assertThrows(StoreException.class, () -> s.deleteDataset(SHA)).kind());
        assertTrue(s.datasets().isEmpty());
    }

    @Test
    void claimsFollowPriorityThenSubmissionAndNeverTwice() {
        JobStore s = store(newDatabase());
        s.putDataset(dataset(SHA));
        Job low = s.insertJob(job("u", 0));
        Job high = s.insertJob(job("u", 5));
        Job low2 = s.insertJob(job("v", 0));
        assertEquals(List.of(high.id(), low.id(), low2.id()), s.queued().stream().map(Job::id).toList());
        Claim c1 = s.claimNext("s1", LEASE).orElseThrow();
        assertEquals(high.id(), c1.jobId());
        assertEquals(1, c1.attempt());
        assertTrue(s.claim(high.id(), "s2", LEASE).isEmpty(), "already running");
        Claim c2 = s.claim(low2.id(), "s2", LEASE).orElseThrow();
        assertEquals(low2.id(), c2.jobId());
        Job running = s.job(low2.id()).orElseThrow();
        assertEquals(JobState.RUNNING, running.state());
        assertEquals("s2", running.server());
        assertEquals(clock.millis() + LEASE.toMillis(), running.leaseExpiresAt());
        assertEquals(java.util.Map.of("u", 1, "v", 1), s.runningPerOwner());
    }

    /**
     * A server whose heartbeat came late (a stalled disk, a busy machine) does not re-queue the job it is running
     * itself: its next heartbeat renews the lease. Any other server, which cannot tell it from a dead one, takes
     * the job over; so does the same server for an older attempt it no longer runs.
     */
    @Test
    void aServerDoesNotRequeueItsOwnRunningJobWhoseHeartbeatIsLate() {
        JobStore s = store(newDatabase());
        s.putDataset(dataset(SHA));
        long id = s.insertJob(job("u", 0)).id();
        Claim running = s.claimNext("s1", LEASE).orElseThrow();
        clock.advance(LEASE.plusSeconds(1));
        assertTrue(s.recoverExpired(Set.of(running)).isEmpty(), "s1 runs the job: its heartbeat is only late");
        assertEquals(JobState.RUNNING, s.job(id).orElseThrow().state());
        assertTrue(s.heartbeat(running, LEASE, null).leaseHeld(), "the late heartbeat renews the lease");
        clock.advance(LEASE.plusSeconds(1));
        Claim olderAttempt = new Claim(id, "s1", running.attempt() - 1);
        List<Job> recovered = s.recoverExpired(Set.of(olderAttempt, new Claim(id, "s2", running.attempt())));
        assertEquals(List.of(id), recovered.stream().map(Job::id).toList(), "not running there: taken over");
        assertEquals(JobState.QUEUED, s.job(id).orElseThrow().state());
        assertFalse(s.heartbeat(running, LEASE, null).leaseHeld(), "s1's claim is fenced off");
    }

    /**
     * A server dies: its lease expires, the job is re-queued with its checkpoint, claimed again, and the dead
     * server's late writes (success included) change nothing.
     */
    @Test
    void anExpiredLeaseRequeuesTheJobAndFencesTheOldServer() {
        JobStore s = store(newDatabase());
        s.putDataset(dataset(SHA));
        long id = s.insertJob(job("u", 0)).id();
        Claim first = s.claimNext("s1", LEASE).orElseThrow();
        assertTrue(s.checkpoint(first, "{\"epochs\":2,\"path\":\"ckpt.d4j\"}"));
        clock.advance(Duration.ofSeconds(20));
        assertTrue(s.heartbeat(first, LEASE, "{\"epoch\":3}").leaseHeld());
        clock.advance(Duration.ofSeconds(29));
        assertTrue(s.recoverExpired().isEmpty(), "the heartbeat renewed the lease");
        clock.advance(Duration.ofSeconds(2));
        List<Job> recovered = s.recoverExpired();
        assertEquals(1, recovered.size());
        Job requeued = recovered.get(0);
        assertEquals(JobState.QUEUED, requeued.state());
        assertEquals("{\"epochs\":2,\"path\":\"ckpt.d4j\"}", requeued.checkpoint());
        assertNull(requeued.server());
        Claim second = s.claimNext("s2", LEASE).orElseThrow();
        assertEquals(2, second.attempt());
        // the first server wakes up: nothing it says counts any more
        assertFalse(s.heartbeat(first, LEASE, null).leaseHeld());
        assertFalse(s.checkpoint(first, "{\"epochs\":9}"));
        assertFalse(s.appendEvent(first, "epoch", "{}"));
        assertFalse(s.putTrial(first, 0, "completed", "{}"));
        assertFalse(s.finish(first, JobState.SUCCEEDED, "{\"bogus\":true}", null));
        assertEquals(JobState.RUNNING, s.job(id).orElseThrow().state());
        assertTrue(s.finish(second, JobState.SUCCEEDED, "{\"version\":3}", null));
        Job done = s.job(id).orElseThrow();
        assertEquals(JobState.SUCCEEDED, done.state());
        assertEquals("{\"version\":3}", done.result());
        assertFalse(s.finish(second, JobState.FAILED, null, "late"), "a final state is final");
        List<String> states = s.events(id, 0, 100).stream().filter(e -> e.kind().equals("state"))
                .map(e -> e.payload().replaceAll(".*\"state\":\"([a-z]+)\".*", "$1")).toList();
        assertEquals(List.of("queued", "running", "queued", "running", "succeeded"), states);
        for (int i = 1; i < states.size(); i++) {
            assertTrue(JobState.fromDb(states.get(i - 1)).canBecome(JobState.fromDb(states.get(i))));
        }
    }

    @Test
    void aJobThatKeepsKillingItsServerFailsAfterTheAttemptLimit() {
        JobStore s = store(newDatabase());
        s.putDataset(dataset(SHA));
        long id = s.insertJob(job("u", 0)).id();
        for (int attempt = 1; attempt <= 2; attempt++) {
            assertEquals(attempt, s.claimNext("s" + attempt, LEASE).orElseThrow().attempt());
            clock.advance(LEASE.plusSeconds(1));
            s.recoverExpired();
        }
        Job j = s.job(id).orElseThrow();
        assertEquals(JobState.FAILED, j.state());
        assertTrue(j.error().contains("2 times"), j.error());
        assertTrue(s.claimNext("s3", LEASE).isEmpty());
    }

    /** Planned shutdowns give the job back: those claims do not count towards the crash limit. */
    @Test
    void claimsGivenBackOnShutdownAreNotCrashes() {
        JobStore s = store(newDatabase());
        s.putDataset(dataset(SHA));
        long id = s.insertJob(job("u", 0)).id();
        for (int deploy = 1; deploy <= 3; deploy++) {
            assertTrue(s.release(s.claimNext("s" + deploy, LEASE).orElseThrow(), "server shut down"));
        }
        Claim fourth = s.claimNext("s4", LEASE).orElseThrow();
        assertEquals(4, fourth.attempt(), "the attempt number still fences every earlier claim");
        clock.advance(LEASE.plusSeconds(1));
        s.recoverExpired(); // one crash after three deploys: retried
        assertEquals(JobState.QUEUED, s.job(id).orElseThrow().state());
        s.claimNext("s5", LEASE).orElseThrow();
        clock.advance(LEASE.plusSeconds(1));
        s.recoverExpired(); // the second crash: the limit (2 here)
        Job j = s.job(id).orElseThrow();
        assertEquals(JobState.FAILED, j.state());
        assertTrue(j.error().contains("2 times"), j.error());
    }

    @Test
    void cancellation() {
        JobStore s = store(newDatabase());
        s.putDataset(dataset(SHA));
        long queued = s.insertJob(job("u", 0)).id();
        long running = s.insertJob(job("u", 0)).id();
        long orphan = s.insertJob(job("u", 0)).id();
        assertEquals(CancelOutcome.CANCELLED, s.requestCancel(queued));
        assertEquals(JobState.CANCELLED, s.job(queued).orElseThrow().state());
        Claim c = s.claim(running, "s1", LEASE).orElseThrow();
        assertFalse(s.heartbeat(c, LEASE, null).cancelRequested());
        assertEquals(CancelOutcome.REQUESTED, s.requestCancel(running));
        assertTrue(s.heartbeat(c, LEASE, null).cancelRequested());
        assertTrue(s.finish(c, JobState.CANCELLED, null, "cancelled"));
        assertEquals(CancelOutcome.ALREADY_FINISHED, s.requestCancel(running));
        // cancel requested, then the server died: cancelled, not re-queued
        s.claim(orphan, "s1", LEASE).orElseThrow();
        s.requestCancel(orphan);
        clock.advance(LEASE.plusSeconds(1));
        s.recoverExpired();
        assertEquals(JobState.CANCELLED, s.job(orphan).orElseThrow().state());
        assertEquals(StoreException.Kind.NOT_FOUND, assertThrows(StoreException.class, () -> s.requestCancel(999)).kind());
    }

    @Test
    void trialsAndEventsAreKeptInOrder() {
        JobStore s = store(newDatabase());
        s.putDataset(dataset(SHA));
        long id = s.insertJob(new NewJob("tune", "u", 0, 2, 0, SHA, "{}")).id();
        Claim c = s.claimNext("s1", LEASE).orElseThrow();
        assertTrue(s.putTrial(c, 1, "running", "{\"id\":1}"));
        assertTrue(s.putTrial(c, 0, "completed", "{\"id\":0}"));
        assertTrue(s.putTrial(c, 1, "stopped", "{\"id\":1,\"score\":0.5}"));
        assertEquals(List.of("completed", "stopped"), s.trials(id).stream().map(Records.Trial::state).toList());
        // a page: after a trial number, at most a count, and cut once its records reach a size (always one)
        String big = "{\"id\":2,\"pad\":\"" + "x".repeat(1000) + "\"}";
        assertTrue(s.putTrial(c, 2, "completed", big));
        assertTrue(s.putTrial(c, 3, "completed", "{\"id\":3}"));
        assertEquals(List.of(1, 2), s.trials(id, 0, 2, Long.MAX_VALUE).stream().map(Records.Trial::trial).toList());
        assertEquals(List.of(1), s.trials(id, 0, 10, 100).stream().map(Records.Trial::trial).toList(),
                "the page stops before the record that would pass the size");
        assertEquals(List.of(2), s.trials(id, 1, 10, 1).stream().map(Records.Trial::trial).toList());
        assertEquals(List.of(3), s.trials(id, 2, 10, 1).stream().map(Records.Trial::trial).toList());
        assertEquals(List.of(), s.trials(id, 3, 10, 1));
        assertTrue(s.hasTrialAfter(id, 2));
        assertFalse(s.hasTrialAfter(id, 3));
        // a job's view reads summaries: no config, no per-epoch history; a row from before the summary column
        // (schema version 6) is summarized from its record
        assertTrue(s.putTrial(c, 4, "completed", "{\"id\":4,\"config\":{\"x\":1},\"rungs\":[{\"rung\":0,"
                + "\"score\":0.5,\"history\":[{\"loss\":[1,2]}]}]}"));
        String summary = "{\"id\":4,\"rungs\":[{\"rung\":0,\"score\":0.5}]}";
        assertEquals(List.of(Map.entry(4, summary)), s.trialSummaries(id, 3, 10));
        assertEquals(List.of(0, 1, 2), s.trialSummaries(id, -1, 3).stream().map(Map.Entry::getKey).toList());
        try (java.sql.Connection conn = s.database().connect(); java.sql.Statement st = conn.createStatement()) {
            st.execute("UPDATE trials SET summary = NULL WHERE trial = 4");
        } catch (java.sql.SQLException e) {
            throw new AssertionError(e);
        }
        assertEquals(List.of(Map.entry(4, summary)), s.trialSummaries(id, 3, 10));
        for (int e = 1; e <= 5; e++) {
            assertTrue(s.appendEvent(c, "epoch", "{\"epoch\":" + e + "}"));
        }
        List<Event> all = s.events(id, 0, 100);
        assertEquals(7, all.size()); // queued, running, 5 epochs
        List<Event> tail = s.events(id, all.get(3).seq(), 2);
        assertEquals(List.of("{\"epoch\":3}", "{\"epoch\":4}"), tail.stream().map(Event::payload).toList());
    }

    /** Two claimers with their own connections, in two threads, then in two JVMs: every job claimed exactly once. */
    @Test
    void concurrentClaimersNeverClaimTheSameJob() throws Exception {
        Database db = newDatabase();
        JobStore s = store(db);
        s.putDataset(dataset(SHA));
        int n = 120;
        for (int i = 0; i < n; i++) {
            s.insertJob(job("u" + (i % 3), i % 4));
        }
        List<Long> claimed = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
            JobStore own = new JobStore(db, clock, 2);
            String server = "thread-" + t;
            boolean byId = t == 1;
            Thread th = new Thread(() -> {
                try {
                    go.await();
                    if (byId) {
                        // the planner's way: try the queue in order, claim by id, lose races silently
                        for (Job j : own.queued()) {
                            own.claim(j.id(), server, LEASE).ifPresent(cl -> claimed.add(cl.jobId()));
                        }
                    }
                    for (Optional<Claim> c = own.claimNext(server, LEASE); c.isPresent(); c = own.claimNext(server, LEASE)) {
                        claimed.add(c.get().jobId());
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            th.start();
            threads.add(th);
        }
        go.countDown();
        for (Thread th : threads) {
            th.join(120_000);
        }
        assertEquals(n, claimed.size(), "claimed " + claimed.size() + " of " + n);
        assertEquals(n, new HashSet<>(claimed).size(), "a job was claimed twice");

        // two JVMs
        for (int i = 0; i < n; i++) {
            s.insertJob(job("w", 0));
        }
        List<Process> procs = new ArrayList<>();
        for (int p = 0; p < 2; p++) {
            procs.add(new ProcessBuilder(javaBin(), "-cp", System.getProperty("java.class.path"),
                    ClaimChild.class.getName(), childArgument(db), "jvm-" + p).redirectErrorStream(true).start());
        }
        Set<Long> byChildren = new HashSet<>();
        int total = 0;
        for (Process p : procs) {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                StringBuilder out = new StringBuilder();
                while ((line = r.readLine()) != null) {
                    out.append(line).append('\n');
                    if (line.startsWith("CLAIMED ")) {
                        total++;
                        assertTrue(byChildren.add(Long.parseLong(line.substring(8))), "claimed twice: " + line);
                    }
                }
                assertTrue(p.waitFor(120, TimeUnit.SECONDS));
                assertEquals(0, p.exitValue(), out.toString());
                assertTrue(out.toString().contains("DONE"), out.toString());
            }
        }
        assertEquals(n, total);
        assertTrue(s.queued().isEmpty());
    }

    private static String javaBin() {
        return java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    @Test
    void jobsAreListedNewestFirstByOwnerAndState() {
        JobStore s = store(newDatabase());
        s.putDataset(dataset(SHA));
        Job a = s.insertJob(job("alice", 0));
        Job b = s.insertJob(job("bob", 0));
        Job c = s.insertJob(job("alice", 0));
        s.claim(c.id(), "s", LEASE);
        assertEquals(List.of(c.id(), b.id(), a.id()), s.jobSummaries(null, null, null, 10).stream()
                .map(Records.JobSummary::id).toList());
        assertEquals(List.of(c.id(), a.id()), s.jobSummaries("alice", null, null, 10).stream()
                .map(Records.JobSummary::id).toList());
        assertEquals(List.of(a.id()), s.jobSummaries("alice", JobState.QUEUED, null, 10).stream()
                .map(Records.JobSummary::id).toList());
        assertEquals(List.of(b.id()), s.jobSummaries(null, null, c.id(), 1).stream()
                .map(Records.JobSummary::id).toList(), "a page: ids below the last one seen");
        assertNotNull(s.job(a.id()).orElseThrow().spec());
        assertTrue(s.job(12345).isEmpty());
    }

    /**
     * Lists read summary columns written when a job is queued and when it finishes; rows queued before those columns
     * existed are summarized when the store opens.
     */
    @Test
    void listsShowSummariesWrittenOnceAndFilledInForEarlierRows() throws Exception {
        Database db = newDatabase();
        JobStore s = store(db);
        s.putDataset(dataset(SHA));
        long id = s.insertJob(new NewJob("train", "alice", 0, 1, 0, SHA,
                "{\"type\": \"train\", \"name\": \"nightly\", \"register_as\": \"fashion\"}")).id();
        Claim c = s.claim(id, "s", LEASE).orElseThrow();
        String result = "{\"type\": \"train\", \"epochs\": [{\"epoch\": 1, \"loss\": 0.5}], "
                + "\"metrics\": {\"loss\": 0.4, \"accuracy\": null}, \"registered\": {\"model\": \"fashion\", \"version\": 2}}";
        assertTrue(s.finish(c, JobState.SUCCEEDED, result, null));
        Records.JobSummary fresh = s.jobSummaries(null, null, null, 10).get(0);
        assertEquals("nightly", fresh.name());
        assertEquals("fashion", fresh.registerAs());
        assertEquals(io.dense4j.tune.Json.parse("{\"metrics\": {\"loss\": 0.4, \"accuracy\": null}, "
                + "\"registered\": {\"model\": \"fashion\", \"version\": 2}}"),
                io.dense4j.tune.Json.parse(fresh.resultSummary()), "the headline only, not the epochs");

        try (Connection conn = db.connect(); Statement st = conn.createStatement()) {
            st.executeUpdate("UPDATE jobs SET name = NULL, register_as = NULL, result_summary = NULL, summarized = 0");
        }
        assertEquals(null, s.jobSummaries(null, null, null, 10).get(0).name(), "a row from before");
        Records.JobSummary filled = store(db).jobSummaries(null, null, null, 10).get(0);
        assertEquals(fresh, filled, "summarized when the store opens");
    }
}
