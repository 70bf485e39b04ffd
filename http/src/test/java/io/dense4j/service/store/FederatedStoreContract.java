package io.dense4j.service.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The federated tables (migration 3) on every database the store supports: claims, leases, guarded writes. */
abstract class FederatedStoreContract {
    static final Duration LEASE = Duration.ofSeconds(30);

    abstract Database newDatabase();

    final TestClock clock = new TestClock();

    private int tokens;

    /** A distinct token hash per call: a token belongs to one client of one task. */
    String tokenHash() {
        return String.format("%064x", ++tokens);
    }

    FederatedStore.NewTask task(String server, String registerAs) {
        return task(server, registerAs, Map.of("a", tokenHash(), "b", tokenHash()));
    }

    static FederatedStore.NewTask task(String server, String registerAs, Map<String, String> clientTokenHashes) {
        return new FederatedStore.NewTask("t", "admin", "{\"rounds\":3}", "{}", registerAs, "{\"seed\":1}",
                clientTokenHashes, server, LEASE);
    }

    static FederatedStore.Round round(long n, String status, Integer version) {
        return new FederatedStore.Round(n, status, "{\"round\":" + n + "}", version, 1);
    }

    @Test
    void aTaskIsInsertedClaimedWithItsClientsAndFoundByTokenHash() {
        FederatedStore s = new FederatedStore(newDatabase(), clock);
        FederatedStore.Task t = s.insert(task("s1", null, Map.of("a", "aa".repeat(32), "b", "bb".repeat(32))));
        assertEquals("federated-" + t.id(), t.registerAs(), "the default registry model names the task");
        assertEquals("running", t.state());
        assertEquals("s1", t.server());
        assertEquals(clock.millis() + LEASE.toMillis(), t.leaseExpiresAt());
        assertEquals(0, t.roundsRun());
        assertNull(t.epsilon());
        assertNull(t.modelVersion());
        assertEquals(List.of("a", "b"), s.clients(t.id()));
        assertEquals(new FederatedStore.ClientOf(t.id(), "b"), s.clientByTokenHash("bb".repeat(32)).orElseThrow());
        assertTrue(s.clientByTokenHash("cc".repeat(32)).isEmpty());
        FederatedStore.Task u = s.insert(new FederatedStore.NewTask("u", "admin", "{}", "{}", "named", "{}",
                Map.of("a", "dd".repeat(32)), "s1", LEASE));
        assertEquals(new FederatedStore.ClientOf(u.id(), "a"), s.clientByTokenHash("dd".repeat(32)).orElseThrow(),
                "the same client name in two tasks: the token tells them apart");
        assertEquals("named", u.registerAs());
        assertEquals(List.of(u.id(), t.id()), s.tasks(null, 10).stream().map(FederatedStore.Task::id).toList(),
                "newest first");
    }

    @Test
    void onlyTheClaimingServerRecordsRoundsAndAnExpiredClaimMovesToAnother() {
        FederatedStore s = new FederatedStore(newDatabase(), clock);
        long id = s.insert(task("s1", null)).id();
        assertTrue(s.recordRounds(id, "s1", List.of(), 0, null, 1));
        assertTrue(s.recordRounds(id, "s1", List.of(round(1, "COMPLETED", 2)), 1, 0.5, 2));
        assertFalse(s.recordRounds(id, "s2", List.of(round(2, "COMPLETED", 3)), 2, 0.7, 3), "s2 holds no claim");
        assertEquals(List.of(), s.claim("s2", LEASE), "s1's claim is live");
        assertEquals(List.of(id), s.claim("s1", LEASE), "renewed");
        clock.advance(LEASE.plusSeconds(1));
        assertEquals(List.of(id), s.claim("s2", LEASE), "s1 stopped renewing: s2 takes the task");
        assertEquals(List.of(), s.claim("s1", LEASE), "and s1 learns it holds it no more");
        assertFalse(s.recordRounds(id, "s1", List.of(round(2, "COMPLETED", 3)), 2, 0.7, 3), "a late write of s1");
        FederatedStore.Task t = s.task(id).orElseThrow();
        assertEquals(1, t.roundsRun());
        assertEquals(0.5, t.epsilon());
        assertEquals(2, t.modelVersion());
        assertEquals(1, s.rounds(id).size());
        assertTrue(s.recordRounds(id, "s2", List.of(round(2, "ABORTED", null)), 2, null, null));
        assertEquals(2, s.task(id).orElseThrow().modelVersion(), "an aborted round keeps the model version");
        assertNull(s.task(id).orElseThrow().epsilon());
        // a graceful stop releases: the next server takes it at once
        s.release("s2");
        assertEquals(List.of(id), s.claim("s3", LEASE));
    }

    @Test
    void cancelAndFinishEndATaskOnceAndDropItsClaim() {
        FederatedStore s = new FederatedStore(newDatabase(), clock);
        long a = s.insert(task("s1", null)).id();
        long b = s.insert(task("s1", null)).id();
        assertTrue(s.cancel(a, "cancelled by admin"), "from any server");
        assertFalse(s.cancel(a, "again"));
        assertEquals(List.of(b), s.claim("s1", LEASE), "a cancelled task is not held");
        assertFalse(s.finish(b, "s2", "finished", "x"), "only the claiming server finishes a task");
        assertTrue(s.finish(b, "s1", "finished", "all 3 rounds ran"));
        FederatedStore.Task t = s.task(b).orElseThrow();
        assertEquals("finished", t.state());
        assertEquals("all 3 rounds ran", t.finishedReason());
        assertNull(t.server());
        assertFalse(s.recordRounds(b, "s1", List.of(round(4, "COMPLETED", 9)), 4, null, 9), "nothing after the end");
        assertEquals("cancelled", s.task(a).orElseThrow().state());
        assertEquals(List.of(b), s.tasks("finished", 10).stream().map(FederatedStore.Task::id).toList());
    }

    @Test
    void aTokenHashAlreadyInUseRefusesTheWholeTask() {
        FederatedStore s = new FederatedStore(newDatabase(), clock);
        String shared = tokenHash();
        long a = s.insert(task("s1", null, Map.of("a", shared))).id();
        assertThrows(StoreException.class, () -> s.insert(task("s1", null, Map.of("x", tokenHash(), "y", shared))));
        assertEquals(List.of(a), s.tasks(null, 10).stream().map(FederatedStore.Task::id).toList(),
                "no half-inserted task is left behind");
        assertEquals(new FederatedStore.ClientOf(a, "a"), s.clientByTokenHash(shared).orElseThrow());
        assertEquals(List.of(a), s.claim("s1", LEASE));
    }

    @Test
    void aRoundIsRecordedOnceAndAFailedWriteChangesNothing() {
        FederatedStore s = new FederatedStore(newDatabase(), clock);
        long id = s.insert(task("s1", null)).id();
        assertTrue(s.recordRounds(id, "s1", List.of(round(1, "COMPLETED", 1)), 1, 0.25, 1));
        assertThrows(StoreException.class,
                () -> s.recordRounds(id, "s1", List.of(round(2, "COMPLETED", 2), round(1, "COMPLETED", 3)), 2, 0.5, 3),
                "round 1 is already recorded");
        FederatedStore.Task t = s.task(id).orElseThrow();
        assertEquals(1, t.roundsRun(), "the progress update rolled back with the refused rounds");
        assertEquals(0.25, t.epsilon());
        assertEquals(1, t.modelVersion());
        assertEquals(List.of(1L), s.rounds(id).stream().map(FederatedStore.Round::round).toList());
        assertEquals("{\"round\":1}", s.rounds(id).get(0).summary());
    }

    @Test
    void anotherServersClaimIsNotTakenBeforeItsLeaseEnds() {
        FederatedStore s = new FederatedStore(newDatabase(), clock);
        long id = s.insert(task("s1", null)).id();
        clock.advance(LEASE.minusSeconds(1));
        assertEquals(List.of(), s.claim("s2", LEASE), "one second left on s1's lease");
        assertEquals("s1", s.task(id).orElseThrow().server());
        assertFalse(s.finish(id, "s2", "failed", "x"));
        assertThrows(IllegalArgumentException.class, () -> s.finish(id, "s1", "cancelled", "x"),
                "cancel is its own call");
        assertEquals("running", s.task(id).orElseThrow().state());
        s.release("s2");
        assertEquals("s1", s.task(id).orElseThrow().server(), "releasing frees only the caller's claims");
    }
}
