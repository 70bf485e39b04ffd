package io.dense4j.service;

import io.dense4j.registry.ModelRegistry;
import io.dense4j.service.dataset.DatasetCatalog;
import io.dense4j.service.federated.FederatedService;
import io.dense4j.service.job.JobRunner;
import io.dense4j.service.job.Promoter;
import io.dense4j.service.store.Database;
import io.dense4j.service.store.FederatedStore;
import io.dense4j.service.store.JobStore;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The training side of a server, put together: the state store (one database, migrated on open), the data set
 * catalogue, the job service whose dispatcher runs jobs on this server's capacity, and the federated tasks this
 * server coordinates. The HTTP routes call its
 * parts; the server starts it with itself and closes it on a graceful stop (running jobs are handed back to the
 * queue, to resume from their checkpoints).
 */
public final class TrainingService implements AutoCloseable {
    /** Data set staging directories older than this are what a server that died mid-upload left behind. */
    private static final long STALE_STAGING_MS = 6 * 3600_000L;

    private final JobStore store;
    private final DatasetCatalog catalog;
    private final JobService jobs;
    private final FederatedService federated;
    private final StorageQuota quota;

    private TrainingService(JobStore store, DatasetCatalog catalog, JobService jobs, FederatedService federated,
                            StorageQuota quota) {
        this.quota = quota;
        this.store = store;
        this.catalog = catalog;
        this.jobs = jobs;
        this.federated = federated;
    }

    /**
     * Opens the state store and the data set catalogue; nothing runs until {@link #start}.
     *
     * @param state        SQLite file path or {@code jdbc:postgresql:} URL
     * @param datasetsDir  where uploaded data sets live
     * @param jobSettings  capacity, limits, work directory, lease
     * @param promoter     the alias path of the admin API, so that serving follows a promotion
     */
    public static TrainingService open(String state, Path datasetsDir, long maxDatasetBytes,
                                       JobService.Settings jobSettings, ModelRegistry registry, Promoter promoter) {
        return open(state, datasetsDir, maxDatasetBytes, jobSettings, registry, promoter, new InferenceActivity(),
                Duration.ZERO, StorageQuota.DEFAULT_BYTES);
    }

    /**
     * As above, with the server's inference requests in flight ({@code activity}), which a job waits for between
     * chunks of training steps, at most {@code jobYield} each time, and each training token's share of the disk
     * ({@code storageQuotaBytes}: its data sets and its jobs' models; see {@link StorageQuota}).
     */
    public static TrainingService open(String state, Path datasetsDir, long maxDatasetBytes,
                                       JobService.Settings jobSettings, ModelRegistry registry, Promoter promoter,
                                       InferenceActivity activity, Duration jobYield, long storageQuotaBytes) {
        JobStore store = new JobStore(Database.open(state));
        DatasetCatalog catalog = new DatasetCatalog(store, datasetsDir, maxDatasetBytes);
        StorageQuota quota = new StorageQuota(storageQuotaBytes, store, registry);
        JobRunner runner = new JobRunner(registry, catalog, promoter, jobSettings.checkpointInterval(),
                jobSettings.jobNice()).yieldingTo(activity, jobYield).withStorageCheck(quota);
        JobService jobs = new JobService(store, runner, jobSettings);
        FederatedService federated = new FederatedService(new FederatedStore(store.database(), Clock.systemUTC()),
                registry, new FederatedService.Settings(jobSettings.serverId(), jobSettings.lease(),
                jobSettings.workRoot(), Duration.ofMillis(500)), Clock.systemUTC());
        return new TrainingService(store, catalog, jobs, federated, quota);
    }

    /** A name unique to this server process: host, process id and a random suffix. */
    public static String defaultServerId() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (java.io.IOException e) {
            host = "host";
        }
        byte[] r = new byte[3];
        ThreadLocalRandom.current().nextBytes(r);
        return host + "-" + ProcessHandle.current().pid() + "-" + HexFormat.of().formatHex(r);
    }

    /**
     * The heartbeat for a lease: a third of it (two missed beats still keep the claim), and at most 2 s, since the
     * heartbeat also carries a cancel request made on another server and the progress other servers show.
     */
    public static Duration heartbeatFor(Duration lease) {
        Duration third = lease.dividedBy(3);
        return third.compareTo(Duration.ofSeconds(2)) < 0 ? third : Duration.ofSeconds(2);
    }

    public JobStore store() {
        return store;
    }

    /** Each training token's share of the disk. */
    public StorageQuota quota() {
        return quota;
    }

    public DatasetCatalog datasets() {
        return catalog;
    }

    public JobService jobs() {
        return jobs;
    }

    public FederatedService federated() {
        return federated;
    }

    public void start() {
        catalog.cleanStaging(STALE_STAGING_MS);
        quota.start();
        jobs.start();
        federated.start();
    }

    @Override
    public void close() {
        try {
            federated.close();
        } finally {
            try {
                jobs.close();
            } finally {
                quota.close();
            }
        }
    }
}
