package io.dense4j.service;

import io.dense4j.registry.ModelRegistry;
import io.dense4j.registry.ModelVersionInfo;
import io.dense4j.service.dataset.DatasetCatalog;
import io.dense4j.service.job.JobRunner;
import io.dense4j.service.store.JobStore;
import io.dense4j.service.store.Records;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Each training token's share of the server's disk: the data sets it uploaded, the model versions its jobs
 * registered, and its uploads arriving now, together at most {@link #limitBytes()}. Without it one token could
 * upload until the disk reserve (507 for everyone) is reached. Counted from what is kept (the state store's data sets,
 * the registry's versions), so deleting a data set gives its bytes back; uploads in flight count as their bytes
 * arrive, so two at once cannot both pass. Admins are not counted. Servers sharing one state store and registry see
 * each other's kept bytes, but not each other's uploads in flight (each may let one more upload through).
 */
public final class StorageQuota {
    /** Default per-token quota: five uploads of the default largest size. */
    public static final long DEFAULT_BYTES = 10L << 30;

    private final long limitBytes;
    private final JobStore store;
    private final ModelRegistry registry;
    private final Map<String, Long> arriving = new HashMap<>();
    /** An upload reads its owner's kept bytes again each time this much more of it has arrived. */
    private static final long REFRESH_BYTES = 8L << 20;

    public StorageQuota(long limitBytes, JobStore store, ModelRegistry registry) {
        if (limitBytes < 1) {
            throw new IllegalArgumentException("the storage quota must be positive, got " + limitBytes);
        }
        this.limitBytes = limitBytes;
        this.store = store;
        this.registry = registry;
    }

    public long limitBytes() {
        return limitBytes;
    }

    /** What {@code owner} holds: its uploaded data sets, its jobs' model versions and its uploads arriving now. */
    public record Use(String owner, long datasetBytes, long modelBytes, long arrivingBytes, long limitBytes) {
        public long usedBytes() {
            return datasetBytes + modelBytes + arrivingBytes;
        }

        public Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("owner", owner);
            m.put("limit_bytes", limitBytes);
            m.put("used_bytes", usedBytes());
            m.put("dataset_bytes", datasetBytes);
            m.put("model_bytes", modelBytes);
            m.put("uploading_bytes", arrivingBytes);
            return m;
        }

        String describe() {
            return owner + " uses " + usedBytes() + " of its " + limitBytes + "-byte storage quota (data sets "
                    + datasetBytes + ", its jobs' models " + modelBytes + ", uploads arriving " + arrivingBytes + ")";
        }
    }

    /** Whether {@code owner}'s storage is counted (a training token's; not the admin's). */
    public static boolean counted(String owner) {
        return !JobRunner.ADMIN_OWNER.equals(owner);
    }

    public Use use(String owner) {
        long datasets = 0;
        for (Records.Dataset d : store.datasets()) {
            if (d.createdBy().equals(owner) && "upload".equals(DatasetCatalog.details(d).path("source").asText())) {
                datasets += d.sizeBytes(); // data an admin registered in place takes no room of ours
            }
        }
        long models = 0;
        if (registry != null) {
            for (String model : registry.models()) {
                for (ModelVersionInfo v : registry.versions(model)) {
                    if (owner.equals(v.actor()) && v.source() != null && v.source().startsWith("job:")) {
                        models += v.sizeBytes();
                    }
                }
            }
        }
        long now;
        synchronized (arriving) {
            now = arriving.getOrDefault(owner, 0L);
        }
        return new Use(owner, datasets, models, now, limitBytes);
    }

    /** Refuses (507) unless {@code owner} has room for {@code moreBytes} more. */
    public void requireRoom(String owner, long moreBytes, String what) {
        if (!counted(owner)) {
            return;
        }
        Use u = use(owner);
        if (u.usedBytes() + Math.max(0, moreBytes) > limitBytes) {
            throw new StorageQuotaException(what + " would take " + owner + " over its storage quota: " + u.describe()
                    + "; delete data sets (or models) it no longer needs, or ask an admin for a larger --storage-quota");
        }
    }

    /**
     * Counts an upload's bytes as they arrive against {@code owner}'s quota; closing it gives them back (once the
     * upload is kept, the data set counts instead).
     */
    public Meter meter(String owner) {
        return new Meter(owner);
    }

    /** An upload's bytes so far, held against its owner's quota while it arrives. */
    public final class Meter implements AutoCloseable {
        private final String owner;
        private long bytes;
        private long keptBefore = -1;
        private long refreshedAt;

        private Meter(String owner) {
            this.owner = owner;
        }

        /**
         * Adds bytes just received: 507 (the caller keeps nothing) once the owner's total would pass the quota. What
         * the owner keeps is read again every {@link #REFRESH_BYTES}, so an upload of its that was kept meanwhile
         * counts; {@link #checkBeforeKeeping()} checks exactly once all has arrived.
         */
        public void add(long n) {
            if (!counted(owner) || n <= 0) {
                return;
            }
            if (keptBefore < 0 || bytes - refreshedAt >= REFRESH_BYTES) {
                Use u = use(owner);
                keptBefore = u.datasetBytes() + u.modelBytes();
                refreshedAt = bytes;
            }
            synchronized (arriving) {
                long others = arriving.getOrDefault(owner, 0L) - bytes;
                if (keptBefore + others + bytes + n > limitBytes) {
                    throw new StorageQuotaException("the upload would take " + owner + " over its storage quota of "
                            + limitBytes + " bytes: it keeps " + keptBefore + " bytes (data sets and its jobs' models), "
                            + others + " more are arriving in its other uploads, and this one reached " + (bytes + n)
                            + " bytes; nothing was stored; delete data sets (or models) it no longer needs, or ask an "
                            + "admin for a larger --storage-quota");
                }
                bytes += n;
                arriving.merge(owner, n, Long::sum);
            }
        }

        /** The exact check once the whole upload has arrived, before it is kept (this upload counts as arriving). */
        public void checkBeforeKeeping() {
            if (counted(owner)) {
                Use u = use(owner);
                if (u.usedBytes() > limitBytes) {
                    throw new StorageQuotaException("the upload would take " + owner + " over its storage quota: "
                            + u.describe() + "; nothing was stored; delete data sets (or models) it no longer needs, or "
                            + "ask an admin for a larger --storage-quota");
                }
            }
        }

        @Override
        public void close() {
            synchronized (arriving) {
                if (bytes > 0) {
                    arriving.computeIfPresent(owner, (k, v) -> v - bytes == 0 ? null : v - bytes);
                    bytes = 0;
                }
            }
        }
    }
}
