package io.dense4j.service;

import io.dense4j.service.store.Database;
import io.dense4j.service.store.JobStore;
import io.dense4j.service.store.Records;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The storage quota's counters: read from the store when the quota is created, kept exact by what this server does
 * (uploads arriving, settled, kept; models held and kept; deletes), read again by a recount for what changed
 * elsewhere, except for an owner with something in progress here.
 */
class StorageQuotaCountersTest {
    @TempDir
    Path tmp;

    private static Records.Dataset uploaded(char sha, String owner, long bytes) {
        return new Records.Dataset(String.valueOf(sha).repeat(64), "d", "csv", 10, 2, 2, List.of(), "/x", bytes,
                System.currentTimeMillis(), owner, "{\"source\": \"upload\"}");
    }

    @Test
    void countersFollowUploadsKeepsDeletesAndRecounts() {
        JobStore store = new JobStore(Database.sqlite(tmp.resolve("state.db")));
        store.putDataset(uploaded('a', "alice", 1000));
        store.putDataset(new Records.Dataset("b".repeat(64), "d", "csv", 10, 2, 2, List.of(), "/srv", 7000,
                System.currentTimeMillis(), "alice", "{\"source\": \"server\"}")); // registered in place: not counted
        store.putDataset(uploaded('c', "admin", 9000)); // admins are not counted
        StorageQuota quota = new StorageQuota(5000, store, null);
        assertEquals(1000, quota.use("alice").usedBytes(), "counted from the store at start");
        assertEquals(0, quota.use("admin").usedBytes());

        // two uploads of one token: the second cannot pass what the first holds
        StorageQuota.Meter first = quota.meter("alice");
        StorageQuota.Meter second = quota.meter("alice");
        first.add(2000);
        second.add(1500);
        assertThrows(StorageQuotaException.class, () -> second.add(600));
        assertEquals(4500, quota.use("alice").usedBytes());
        // the first settles at its exact size and is kept; the second is refused at its exact size
        first.settle(1900);
        first.keepDataset(1900);
        first.close();
        assertThrows(StorageQuotaException.class, () -> second.settle(2200));
        second.close();
        assertEquals(new StorageQuota.Use("alice", 2900, 0, 0, 5000), quota.use("alice"));

        // a model's room is held while it is written, then kept
        assertThrows(StorageQuotaException.class, () -> quota.hold("alice", 2101, "a model"));
        assertEquals(0, quota.use("alice").arrivingBytes(), "a refused hold holds nothing");
        try (StorageQuota.Meter model = quota.hold("alice", 100, "a model")) {
            model.keep(100);
        }
        assertEquals(new StorageQuota.Use("alice", 2900, 100, 0, 5000), quota.use("alice"));

        // changes elsewhere (another server sharing the store) show after a recount, not while alice has an upload
        // in progress here
        store.putDataset(uploaded('d', "alice", 300));
        store.putDataset(uploaded('e', "bob", 400));
        StorageQuota.Meter arriving = quota.meter("alice");
        arriving.add(10);
        quota.recount();
        assertEquals(new StorageQuota.Use("alice", 2900, 100, 10, 5000), quota.use("alice"));
        assertEquals(400, quota.use("bob").usedBytes());
        arriving.close();
        quota.recount();
        // read from the store: its two uploaded data sets (1,000 and 300; the settled upload was never stored here),
        // no model in a registry (none given)
        assertEquals(new StorageQuota.Use("alice", 1300, 0, 0, 5000), quota.use("alice"));

        // a delete gives the bytes back at once
        Records.Dataset gone;
        try (StorageQuota.Meter held = quota.meter("alice")) {
            gone = store.deleteDataset("d".repeat(64));
            quota.deleted(gone);
        }
        assertEquals(1000, quota.use("alice").usedBytes());
        quota.recount();
        assertEquals(1000, quota.use("alice").usedBytes());

        // bytes counted after the upload ended (the rest of a body drained once the handler returned) hold nothing:
        // they stayed counted until a restart, and could lock the token out
        StorageQuota.Meter ended = quota.meter("alice");
        ended.add(100);
        ended.close();
        ended.add(3000);
        ended.settle(3000);
        assertEquals(new StorageQuota.Use("alice", 1000, 0, 0, 5000), quota.use("alice"));
    }
}
