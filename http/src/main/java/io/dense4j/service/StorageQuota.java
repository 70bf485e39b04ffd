package io.dense4j.service;

import io.dense4j.registry.ModelRegistry;
import io.dense4j.registry.ModelVersionInfo;
import io.dense4j.service.dataset.DatasetCatalog;
import io.dense4j.service.job.JobRunner;
import io.dense4j.service.store.JobStore;
import io.dense4j.service.store.Records;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Each training token's share of the server's disk: the data sets it uploaded, the model versions its jobs
 * registered, and its uploads arriving now, together at most {@link #limitBytes()}. Without it one token could
 * upload until the disk reserve (507 for everyone) is reached. Admins are not counted.
 *
 * <p>Each token's use is a set of counters, so a check costs the same however much the server holds: read from
 * what is kept (the state store's data sets, the registry's versions) when the quota is created, then changed by
 * what this server does, under one lock: an upload's bytes count as they arrive ({@link Meter#add}), its exact
 * size is checked against the whole use once it has arrived ({@link Meter#settle}), and it moves from arriving to
 * kept when it is stored ({@link Meter#keepDataset}, {@link Meter#keep}), so two uploads of one token that together pass the quota cannot
 * both be kept, whatever their order. Every {@link #RECOUNT_INTERVAL} the counters are read again from the store
 * and the registry, so that what changed elsewhere shows (another server sharing them, a version deleted, the
 * command line); a token with an upload or registration in progress here, or one whose counters changed while
 * they were read, keeps its counters until the next time. Servers sharing one store see each other's kept bytes
 * within that interval, not each other's uploads in flight; a version an admin deletes here is recounted at once.
 */
public final class StorageQuota implements JobRunner.StorageCheck, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(StorageQuota.class);
    /** Default per-token quota: five uploads of the default largest size. */
    public static final long DEFAULT_BYTES = 10L << 30;
    /** How often the counters are read again from the store and the registry. */
    public static final Duration RECOUNT_INTERVAL = Duration.ofSeconds(30);

    private final long limitBytes;
    private final JobStore store;
    private final ModelRegistry registry;
    /** Each counted owner's use; guarded by {@code this}. */
    private final Map<String, Account> accounts = new HashMap<>();
    private ScheduledExecutorService recounter;

    /** One owner's counters. */
    private static final class Account {
        long datasetBytes;
        long modelBytes;
        long arrivingBytes;
        /** Uploads and registrations of this owner in progress: a recount leaves the counters alone meanwhile. */
        int inProgress;
        /** Bumped by every change made here: a recount that read the store while one happened is not applied. */
        long changes;

        long used() {
            return datasetBytes + modelBytes + arrivingBytes;
        }
    }

    /** Counts what {@code store} and {@code registry} hold now (the registry may be null: no models). */
    public StorageQuota(long limitBytes, JobStore store, ModelRegistry registry) {
        if (limitBytes < 1) {
            throw new IllegalArgumentException("the storage quota must be positive, got " + limitBytes);
        }
        this.limitBytes = limitBytes;
        this.store = store;
        this.registry = registry;
        recount();
    }

    public long limitBytes() {
        return limitBytes;
    }

    /** Starts reading the counters again every {@link #RECOUNT_INTERVAL} (on a daemon thread), until closed. */
    public synchronized void start() {
        if (recounter != null) {
            return;
        }
        recounter = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "dense4j-storage-recount");
            t.setDaemon(true);
            return t;
        });
        long every = RECOUNT_INTERVAL.toMillis();
        recounter.scheduleWithFixedDelay(this::recountLogged, every, every, TimeUnit.MILLISECONDS);
    }

    /**
     * Reads the counters again now, in the background once started (something this server changed without
     * counting it: an admin deleted a version a job registered).
     */
    public synchronized void recountSoon() {
        if (recounter != null) {
            recounter.execute(this::recountLogged);
        }
    }

    private void recountLogged() {
        try {
            recount();
        } catch (RuntimeException e) {
            LOG.warn("reading the storage use again failed; the counters stay as they were", e);
        }
    }

    @Override
    public synchronized void close() {
        if (recounter != null) {
            recounter.shutdownNow();
            recounter = null;
        }
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

    public synchronized Use use(String owner) {
        Account a = accounts.get(owner);
        return a == null ? new Use(owner, 0, 0, 0, limitBytes)
                : new Use(owner, a.datasetBytes, a.modelBytes, a.arrivingBytes, limitBytes);
    }

    /** Refuses (507) unless {@code owner} has room for {@code moreBytes} more. */
    @Override
    public synchronized void requireRoom(String owner, long moreBytes, String what) {
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
     * Holds {@code moreBytes} of {@code owner}'s room (507 when there is none) while a job registers a model of that
     * size; {@link Meter#keep} then counts it as the owner's model.
     */
    @Override
    public Meter hold(String owner, long moreBytes, String what) {
        Meter m = meter(owner);
        try {
            m.add(moreBytes, what);
            return m;
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /** Counts an upload's bytes as they arrive against {@code owner}'s quota; closing it gives back what it holds. */
    public Meter meter(String owner) {
        return new Meter(owner);
    }

    /**
     * A data set was deleted: its uploader gets its bytes back (data an admin registered in place was not counted).
     * Call it inside a {@link Meter} of the owner, opened before the delete, so that a recount running meanwhile
     * cannot count the delete twice.
     */
    public synchronized void deleted(Records.Dataset d) {
        Account a = accounts.get(d.createdBy());
        if (a != null && isUpload(d)) {
            a.datasetBytes = Math.max(0, a.datasetBytes - d.sizeBytes());
            a.changes++;
        }
    }

    /** An upload's (or a registration's) bytes, held against its owner's quota until kept or closed. */
    public final class Meter implements JobRunner.StorageCheck.Hold {
        private final String owner;
        private final boolean counted;
        private long bytes;
        private boolean open = true;

        private Meter(String owner) {
            this.owner = owner;
            this.counted = counted(owner);
            if (counted) {
                synchronized (StorageQuota.this) {
                    Account a = accounts.computeIfAbsent(owner, k -> new Account());
                    a.inProgress++;
                    a.changes++;
                }
            }
        }

        /** Adds bytes just received: 507 (the caller keeps nothing) once the owner's total would pass the quota. */
        public void add(long n) {
            add(n, "the upload");
        }

        private void add(long n, String what) {
            if (!counted || n <= 0) {
                return;
            }
            synchronized (StorageQuota.this) {
                if (!open) {
                    return; // bytes read after the request ended (a body drained): nothing holds them any more
                }
                Account a = accounts.get(owner);
                if (a.used() + n > limitBytes) {
                    throw over(a, what, bytes + n);
                }
                a.arrivingBytes += n;
                bytes += n;
            }
        }

        /**
         * Sets what this upload holds to {@code exactBytes}, its size as it will be kept (what arrived less the
         * multipart framing), and checks the owner's whole use with it, under the same lock as every other upload's
         * bytes: 507 when it does not fit.
         */
        public void settle(long exactBytes) {
            if (!counted) {
                return;
            }
            synchronized (StorageQuota.this) {
                if (!open) {
                    return;
                }
                Account a = accounts.get(owner);
                a.arrivingBytes += exactBytes - bytes;
                bytes = exactBytes;
                if (a.used() > limitBytes) {
                    throw over(a, "the upload", bytes);
                }
            }
        }

        /**
         * What this upload holds is now kept, as a data set of {@code keptBytes} (0 when the same data was kept
         * already, by whoever added it).
         */
        public void keepDataset(long keptBytes) {
            keep(keptBytes, false);
        }

        /** What this hold holds is now kept, as a model version of {@code keptBytes}. */
        @Override
        public void keep(long keptBytes) {
            keep(keptBytes, true);
        }

        private void keep(long keptBytes, boolean model) {
            if (!counted) {
                return;
            }
            synchronized (StorageQuota.this) {
                Account a = accounts.get(owner);
                a.arrivingBytes -= bytes;
                bytes = 0;
                if (model) {
                    a.modelBytes += keptBytes;
                } else {
                    a.datasetBytes += keptBytes;
                }
                a.changes++;
            }
        }

        @Override
        public void close() {
            if (!counted) {
                return;
            }
            synchronized (StorageQuota.this) {
                if (!open) {
                    return;
                }
                open = false;
                Account a = accounts.get(owner);
                a.arrivingBytes -= bytes;
                bytes = 0;
                a.inProgress--;
                a.changes++;
            }
        }

        private StorageQuotaException over(Account a, String what, long reached) {
            return new StorageQuotaException(what + " would take " + owner + " over its storage quota of " + limitBytes
                    + " bytes: it keeps " + (a.datasetBytes + a.modelBytes) + " bytes (data sets and its jobs' models), "
                    + (a.arrivingBytes - bytes) + " more are arriving in its other uploads, and this one reached "
                    + reached + " bytes; nothing was stored; delete data sets (or models) it no longer needs, or ask an "
                    + "admin for a larger --storage-quota");
        }
    }

    // ------------------------------------------------------------------ recount

    private static boolean isUpload(Records.Dataset d) {
        return "upload".equals(DatasetCatalog.details(d).path("source").asText());
    }

    /**
     * Reads every owner's kept bytes from the store and the registry, and takes them for each owner with nothing in
     * progress here whose counters did not change while they were read.
     */
    void recount() {
        Map<String, Long> changesBefore = new HashMap<>();
        synchronized (this) {
            accounts.forEach((owner, a) -> changesBefore.put(owner, a.changes));
        }
        Map<String, long[]> kept = new HashMap<>(); // owner -> {data set bytes, model bytes}
        for (Records.Dataset d : store.datasets()) {
            if (counted(d.createdBy()) && isUpload(d)) { // data an admin registered in place takes no room of ours
                kept.computeIfAbsent(d.createdBy(), k -> new long[2])[0] += d.sizeBytes();
            }
        }
        if (registry != null) {
            for (String model : registry.models()) {
                for (ModelVersionInfo v : registry.versions(model)) {
                    if (v.actor() != null && counted(v.actor()) && v.source() != null && v.source().startsWith("job:")) {
                        kept.computeIfAbsent(v.actor(), k -> new long[2])[1] += v.sizeBytes();
                    }
                }
            }
        }
        synchronized (this) {
            for (Map.Entry<String, long[]> e : kept.entrySet()) {
                if (!accounts.containsKey(e.getKey()) && !changesBefore.containsKey(e.getKey())) {
                    accounts.put(e.getKey(), new Account());
                    changesBefore.put(e.getKey(), 0L);
                }
            }
            for (Map.Entry<String, Account> e : accounts.entrySet()) {
                Account a = e.getValue();
                Long before = changesBefore.get(e.getKey());
                if (a.inProgress == 0 && before != null && before == a.changes) {
                    long[] k = kept.getOrDefault(e.getKey(), new long[2]);
                    a.datasetBytes = k[0];
                    a.modelBytes = k[1];
                }
            }
        }
    }
}
