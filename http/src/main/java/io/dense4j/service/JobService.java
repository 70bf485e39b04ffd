package io.dense4j.service;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.dense4j.service.job.JobCancelledException;
import io.dense4j.service.job.JobContext;
import io.dense4j.service.job.CheckpointSchedule;
import io.dense4j.service.job.EventWriter;
import io.dense4j.service.job.JobEvent;
import io.dense4j.service.job.JobRunner;
import io.dense4j.service.job.JobSpec;
import io.dense4j.service.job.JobState;
import io.dense4j.service.scheduler.Allocation;
import io.dense4j.service.scheduler.Capacity;
import io.dense4j.service.scheduler.JobRequest;
import io.dense4j.service.scheduler.Scheduler;
import io.dense4j.service.store.JobStore;
import io.dense4j.service.store.Records;
import io.dense4j.service.store.StoreException;
import io.dense4j.service.dataset.DatasetCatalog;
import io.dense4j.data.Dataset;
import io.dense4j.tune.ConfigAdapter;
import io.dense4j.tune.ConfigException;
import io.dense4j.tune.Json;
import io.dense4j.tune.TrialRecord;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The training service of one server: takes job submissions, and runs the queued jobs its {@link Scheduler} lets
 * it start, on the state store's queue that other servers may share. What the HTTP routes call.
 *
 * <p>A dispatcher thread loops: re-queue jobs whose lease expired (on any server; not one running here, whose
 * heartbeat was only late), read the queue, plan with the
 * scheduler against this server's capacity (the per-owner limit counts running jobs on every server), claim what the
 * plan starts (a claim lost to another server is skipped) and run each claimed job on its own thread. A heartbeat
 * thread renews the leases of the jobs running here, learns of cancel requests made on any server, and stops a job
 * whose lease was lost (its result is then never written: the attempt number fences it). {@link #close} hands
 * running jobs back to the queue so that a restart, or another server, resumes them from their last checkpoint.
 */
public final class JobService implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(JobService.class.getName());

    /**
     * @param serverId   unique per server process (recorded as the claimer)
     * @param workRoot   where jobs keep checkpoints and model files; servers sharing a queue must share it (e.g. a
     *                   directory beside the registry) so that one can resume another's job
     * @param lease      how long a claim lasts without a heartbeat
     * @param heartbeat  how often leases are renewed (well under {@code lease})
     * @param poll       how often the queue is read when nothing signals a change
     * @param maxQueuedPerOwner jobs one owner may have waiting in the queue (more: {@link QuotaException})
     * @param jobNice    the priority of a job's kernel threads (nice 1..19, or ThreadPriority.IDLE: SCHED_IDLE; Linux; 0: the
     *                   kernels run on the job thread), so training yields the CPU to inference
     * @param checkpointInterval a train job's checkpoint interval when its spec gives none ({@link CheckpointSchedule})
     * @param eventInterval how long a job's epoch events may wait to be written in one batch ({@link EventWriter})
     */
    public record Settings(String serverId, Capacity capacity, int maxRunningPerOwner, Path workRoot, Duration lease,
                           Duration heartbeat, Duration poll, int maxQueuedPerOwner, int jobNice,
                           Duration checkpointInterval, Duration eventInterval) {
        public static final int DEFAULT_MAX_QUEUED_PER_OWNER = 100;
        /**
         * SCHED_IDLE for a job's kernel threads: its arithmetic runs only on CPU time inference leaves. Only the
         * kernels run at that priority (on kernel threads, {@code Dense4J.kernelThreads}); the job thread, which
         * takes the state store's write lock (events, checkpoint records) and the registry's, keeps the server's, so
         * a starved thread never holds a lock that others wait for (priority inversion).
         */
        public static final int DEFAULT_JOB_NICE = ThreadPriority.IDLE;

        public Settings {
            if (heartbeat.compareTo(lease.dividedBy(2)) > 0) {
                throw new IllegalArgumentException("the heartbeat (" + heartbeat + ") must be at most half the lease ("
                        + lease + ")");
            }
            if (maxRunningPerOwner < 1 || maxQueuedPerOwner < 1) {
                throw new IllegalArgumentException("the per-owner job limits must be >= 1");
            }
            if (jobNice < 0 || jobNice > ThreadPriority.IDLE) {
                throw new IllegalArgumentException("the nice value of job threads is 0..19 or idle ("
                        + ThreadPriority.IDLE + "), got " + jobNice);
            }
            if (checkpointInterval.isNegative() || eventInterval.isNegative()) {
                throw new IllegalArgumentException("the checkpoint and event intervals must be >= 0");
            }
        }

        public Settings(String serverId, Capacity capacity, int maxRunningPerOwner, Path workRoot, Duration lease,
                        Duration heartbeat, Duration poll) {
            this(serverId, capacity, maxRunningPerOwner, workRoot, lease, heartbeat, poll, DEFAULT_MAX_QUEUED_PER_OWNER,
                    DEFAULT_JOB_NICE, CheckpointSchedule.DEFAULT_MIN_INTERVAL, EventWriter.DEFAULT_MIN_INTERVAL);
        }
    }

    /** Hears every event of jobs running in this process, as it happens (for live streams). */
    public interface Listener {
        void onEvent(long jobId, String kind, String payloadJson);
    }

    private final JobStore store;
    private final JobRunner runner;
    private final Settings settings;
    private final Map<Long, Running> running = new ConcurrentHashMap<>();
    private final List<Listener> listeners = new CopyOnWriteArrayList<>();
    private final ExecutorService jobThreads = Executors.newCachedThreadPool(r -> daemon(r, "job"));
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition wake = lock.newCondition();
    private final AtomicBoolean stopping = new AtomicBoolean();
    private Thread dispatcher;
    private Thread heartbeater;

    public JobService(JobStore store, JobRunner runner, Settings settings) {
        this.store = store;
        this.runner = runner;
        this.settings = settings;
    }

    public void addListener(Listener l) {
        listeners.add(l);
    }

    public Settings settings() {
        return settings;
    }

    // ------------------------------------------------------------------------------------------ requests

    /**
     * Validates and queues a job.
     *
     * @throws ConfigException a malformed or invalid spec (400)
     * @throws io.dense4j.service.scheduler.ImpossibleRequestException resources this server can never give (400)
     * @throws io.dense4j.service.store.StoreException NOT_FOUND for an unknown data set (404)
     * @throws QuotaException the owner already has its limit of queued jobs (429)
     */
    public Records.Job submit(JsonNode specJson, String owner) {
        JobSpec spec = JobSpec.parse(specJson);
        if (spec.priority() > MAX_TOKEN_PRIORITY && !owner.equals(JobRunner.ADMIN_OWNER)) {
            throw new ForbiddenException("priority " + spec.priority() + " needs the admin credentials: a training "
                    + "token's jobs may ask at most " + MAX_TOKEN_PRIORITY + " (lower values order its own jobs)");
        }
        if (spec.registerAs() != null) {
            runner.registrationRefusal(spec.registerAs(), owner).ifPresent(why -> {
                throw new ForbiddenException(why);
            });
        }
        if (spec.registerAs() != null) { // its model will need room: refused at once when the owner has none left
            runner.storageCheck().requireRoom(owner, 1, "a job that registers a model");
        }
        Scheduler.checkFits(settings.capacity(), spec.cpus(), spec.gpus());
        checkAgainstData(spec, owner);
        checkModelReference(spec.parent(), "/parent");
        checkModelReference(spec.model(), "/model");
        Records.Job job;
        // the count and the insert as one step per owner: parallel submits all read the same count and all went in
        synchronized (submitLocks.computeIfAbsent(owner, o -> new Object())) {
            int queued = store.count(owner, JobState.QUEUED);
            if (queued >= settings.maxQueuedPerOwner()) {
                throw new QuotaException(owner + " already has " + queued + " jobs queued, the most this server takes; "
                        + "wait for some to start or cancel some");
            }
            job = store.insertJob(new Records.NewJob(spec.type().jsonName(), owner, spec.priority(), spec.cpus(),
                    spec.gpus(), spec.datasetSha256(), spec.json().toString()));
        }
        signal();
        return job;
    }

    /**
     * A model a job starts from or evaluates must exist, or be one that a queued or running job registers (a chain
     * submitted at once): a misspelt name is a 400 now, not a failed job later. Its version or alias is resolved when
     * the job runs (a queued job may promote it meanwhile).
     */
    private void checkModelReference(io.dense4j.service.job.JobSpec.ModelRef ref, String path) {
        if (ref == null || runner.modelExists(ref.model())) {
            return;
        }
        for (String s : store.activeSpecs()) {
            try {
                if (ref.model().equals(io.dense4j.tune.Json.parse(s).path("register_as").asText(null))) {
                    return;
                }
            } catch (RuntimeException e) {
                // a stored spec that does not parse registers nothing
            }
        }
        throw new io.dense4j.tune.ConfigException(path + "/model", "no model '" + ref.model() + "' in the registry, "
                + "and no queued or running job registers one");
    }

    /**
     * The highest priority a training token's job may ask. Priority orders jobs across owners: a token that could
     * raise its own would go ahead of every other tenant's queued jobs. Below it, tokens order their own work (and
     * yield to others); above it is the admin's.
     */
    public static final int MAX_TOKEN_PRIORITY = 0;

    /** One lock per owner that submitted here (owners are the server's tokens: a bounded set). */
    private final java.util.concurrent.ConcurrentHashMap<String, Object> submitLocks =
            new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * Checks a train or tune config against the data set's recorded schema (features, classes or targets, test
     * split) before the job is queued, exactly as the runner will check it against the loaded rows.
     */
    private void checkAgainstData(JobSpec spec, String owner) {
        // another tenant's data set is, to this owner, one that does not exist (the same answer, so that it learns
        // nothing of which bytes others hold)
        Records.Dataset d = store.dataset(spec.datasetSha256())
                .filter(ds -> DatasetCatalog.visibleTo(ds, owner, owner.equals(JobRunner.ADMIN_OWNER)))
                .orElseThrow(() -> new StoreException(StoreException.Kind.NOT_FOUND, "no data set "
                        + spec.datasetSha256() + " (upload it first: POST /v1/datasets)"));
        if (spec.holdout() != null && spec.holdout().testSplit()
                && DatasetCatalog.details(d).path("test_rows").asLong(0) == 0) {
            throw new ConfigException("/dataset/holdout", "data set " + d.sha256() + " has no test split; give "
                    + "{\"fraction\": f}");
        }
        checkDataMemory(spec, d);
        if (spec.config() == null) {
            return;
        }
        float[][] row = new float[1][d.features()];
        try (Dataset probe = d.classes() > 0 ? Dataset.of(row, new int[] {0}, d.classes(), d.classNames())
                : Dataset.ofTargets(row, new float[1][1])) {
            ConfigAdapter.parse(spec.config()).checkData(probe);
        } catch (ConfigException e) {
            String m = e.getMessage();
            String bare = !e.path().isEmpty() && m.startsWith(e.path() + ": ") ? m.substring(e.path().length() + 2) : m;
            throw new ConfigException("/config" + e.path(), bare + " (data set " + d.sha256().substring(0, 12) + "...: "
                    + d.features() + " features, " + (d.classes() > 0 ? d.classes() + " classes" : "regression targets")
                    + ")");
        }
    }

    /**
     * Copies of its data set a job holds at once, at most: the rows as loaded, then a train job's split (or its
     * preprocessed copy); a tune job's workers each keep their own copy of the objective's data (one whole copy for a
     * holdout, k for k-fold: each fold's train and validation rows together are the data set), and its retrain one.
     */
    static long dataCopies(JobSpec spec) {
        if (spec.tune() == null) {
            return 2;
        }
        io.dense4j.tune.TuneSpec t = spec.tune();
        long workers = Math.min(t.maxParallelTrials(), Math.min(t.maxTrials(), t.sampler().size()));
        return 2 + workers * t.objective().folds();
    }

    /**
     * Refuses a job whose copies of its data set ({@link #dataCopies}; a feature is a byte in an IDX set, which stays
     * bytes, else a float) would pass half of this machine's memory: data sets live outside the Java heap, so no
     * -Xmx stops them, and max_parallel_trials x k copies of a large set took the whole machine, the server (and its
     * inference) with it.
     */
    private void checkDataMemory(JobSpec spec, Records.Dataset d) {
        double copy = copyBytes(d);
        double need = copy * dataCopies(spec);
        long limit = dataMemoryLimit;
        if (need > limit) {
            throw new ConfigException(spec.tune() != null ? "/tune/max_parallel_trials" : "/dataset",
                    String.format(java.util.Locale.ROOT, "the job would hold %d copies of its data set (%d rows x %d "
                            + "features: %.1f GB each, %.1f GB in all) but jobs may hold at most %.1f GB of data, half "
                            + "of this machine's memory%s", dataCopies(spec), d.rows(), d.features(), copy / 1e9,
                            need / 1e9, limit / 1e9, spec.tune() != null ? "; fewer parallel trials or folds hold "
                            + "fewer copies" : ""));
        }
    }

    /** Bytes of one copy of a data set's rows in memory. */
    private static double copyBytes(Records.Dataset d) {
        return (double) d.rows() * ((double) d.features() * (d.format().equals("idx") ? 1 : Float.BYTES) + Float.BYTES);
    }

    /** The most bytes of data {@code job} holds while it runs (0 when its spec or data set cannot be read). */
    private long dataBytes(Records.Job job) {
        try {
            JobSpec spec = JobSpec.parse(Json.parse(job.spec()));
            Optional<Records.Dataset> d = spec.datasetSha256() == null ? Optional.empty() : store.dataset(spec.datasetSha256());
            return d.map(ds -> (long) Math.min(Long.MAX_VALUE / 4, copyBytes(ds) * dataCopies(spec))).orElse(0L);
        } catch (RuntimeException e) {
            return 0; // the runner fails it with the reason
        }
    }

    /** Half of the machine's physical memory (the data of a job is native memory: -Xmx does not bound it). */
    static final long DATA_MEMORY_LIMIT = physicalMemory() / 2;

    /**
     * The data all jobs running here may hold together, and one job at submission ({@link #DATA_MEMORY_LIMIT}; a
     * test lowers it).
     */
    private volatile long dataMemoryLimit = DATA_MEMORY_LIMIT;

    void dataMemoryLimitForTest(long bytes) {
        dataMemoryLimit = bytes;
    }

    private static long physicalMemory() {
        try {
            if (java.lang.management.ManagementFactory.getOperatingSystemMXBean()
                    instanceof com.sun.management.OperatingSystemMXBean os && os.getTotalMemorySize() > 0) {
                return os.getTotalMemorySize();
            }
        } catch (RuntimeException | LinkageError e) {
            // not HotSpot's bean: fall through
        }
        return 16L << 30;
    }

    public Optional<Records.Job> get(long id) {
        return store.job(id);
    }

    public List<Records.JobSummary> list(String owner, JobState state, Long beforeId, int limit) {
        return store.jobSummaries(owner, state, beforeId, limit);
    }

    /** The latest progress (or epoch) report of a job running in this process, fresher than the stored one; or null. */
    public String liveProgress(long id) {
        Running r = running.get(id);
        return r == null ? null : r.lastProgress;
    }

    /** A page of a tune job's trial summaries ({@link io.dense4j.service.store.JobStore#trialSummaries}). */
    public List<Map.Entry<Integer, String>> trialSummaries(long id, int afterTrial, int limit) {
        return store.trialSummaries(id, afterTrial, limit);
    }

    /** Whether a tune job has a trial after {@code afterTrial}. */
    public boolean hasTrialAfter(long id, int afterTrial) {
        return store.hasTrialAfter(id, afterTrial);
    }

    /** A page of a tune job's trials ({@link io.dense4j.service.store.JobStore#trials(long, int, int, long)}). */
    public List<Records.Trial> trials(long id, int afterTrial, int limit, long maxChars) {
        return store.trials(id, afterTrial, limit, maxChars);
    }

    public List<Records.Event> events(long id, long afterSeq, int limit) {
        return store.events(id, afterSeq, limit);
    }

    /** Cancels a queued job, or stops a running one within a chunk of steps (on whichever server runs it). */
    public Records.CancelOutcome cancel(long id) {
        Records.CancelOutcome o = store.requestCancel(id);
        Running r = running.get(id);
        if (r != null) {
            r.cancel.set(true); // here: no need to wait for the next heartbeat
        }
        if (o != Records.CancelOutcome.ALREADY_FINISHED) {
            emit(id, "state", o == Records.CancelOutcome.CANCELLED ? "{\"state\":\"cancelled\"}" : "{}");
        }
        signal();
        return o;
    }

    // ------------------------------------------------------------------------------------------ lifecycle

    public synchronized void start() {
        if (dispatcher != null) {
            return;
        }
        dispatcher = daemon(this::dispatchLoop, "job-dispatcher");
        heartbeater = daemon(this::heartbeatLoop, "job-heartbeat");
        dispatcher.start();
        heartbeater.start();
    }

    /** Stops taking jobs and hands the running ones back to the queue (they resume from their checkpoints). */
    @Override
    public void close() {
        stopping.set(true);
        signal();
        for (Running r : running.values()) {
            r.shutdown.set(true);
        }
        jobThreads.shutdown();
        try {
            if (!jobThreads.awaitTermination(60, TimeUnit.SECONDS)) {
                LOG.warning("jobs still running 60 s after shutdown; their leases will expire");
            }
            for (Thread t : new Thread[] {dispatcher, heartbeater}) {
                if (t != null) {
                    t.interrupt();
                    t.join(10_000);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Simulates this process dying (kill -9) for tests: no more heartbeats, dispatching or writes by its runners,
     * nothing handed back; only the lease's expiry tells the other servers.
     */
    void crashForTest() {
        stopping.set(true);
        for (Thread t : new Thread[] {dispatcher, heartbeater}) {
            if (t != null) {
                t.interrupt();
            }
        }
        for (Running r : running.values()) {
            r.lost.set(true);
        }
    }

    /** Jobs running in this process now. */
    public List<Allocation> runningHere() {
        List<Allocation> out = new ArrayList<>();
        running.values().forEach(r -> out.add(r.allocation));
        return out;
    }

    private void signal() {
        lock.lock();
        try {
            wake.signalAll();
        } finally {
            lock.unlock();
        }
    }

    private void dispatchLoop() {
        while (!stopping.get()) {
            try {
                dispatchOnce();
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "job dispatch failed; retrying", e);
            }
            lock.lock();
            try {
                wake.await(settings.poll().toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                return;
            } finally {
                lock.unlock();
            }
        }
    }

    /** One round: recover expired leases, plan, claim, start. Package-private for tests. */
    void dispatchOnce() {
        Set<Records.Claim> alive = new HashSet<>(); // running here: a late heartbeat is no death
        for (Running r : running.values()) {
            if (!r.lost.get()) {
                alive.add(r.claim);
            }
        }
        for (Records.Job j : store.recoverExpired(alive)) {
            LOG.info("job " + j.id() + ": lease expired, now " + j.state().dbName());
        }
        if (stopping.get()) {
            return;
        }
        List<JobRequest> queue = new ArrayList<>();
        Map<Long, Records.Job> queuedJobs = new java.util.HashMap<>();
        for (Records.Job j : store.queued()) {
            queue.add(new JobRequest(j.id(), j.owner(), j.priority(), j.id(), j.cpus(), j.gpus()));
            queuedJobs.put(j.id(), j);
        }
        List<Allocation> here = runningHere();
        Scheduler.Plan plan = Scheduler.plan(settings.capacity(), settings.maxRunningPerOwner(), queue, here,
                store.runningPerOwner());
        long held = running.values().stream().mapToLong(r -> r.dataBytes).sum();
        for (Allocation a : plan.starts()) {
            if (stopping.get()) {
                return;
            }
            // each job's data passed the limit alone at submission; together the running ones must too. A job that
            // does not fit now waits for memory, and nothing planned after it starts first: it keeps its place
            Records.Job queuedJob = queuedJobs.get(a.jobId());
            long need = queuedJob == null ? 0 : dataBytes(queuedJob);
            if (!running.isEmpty() && held + need > dataMemoryLimit) {
                long holding = held;
                LOG.fine(() -> "job " + a.jobId() + " waits for memory: the running jobs hold " + holding + " bytes of data");
                break;
            }
            held += need;
            Optional<Records.Claim> claim = store.claim(a.jobId(), settings.serverId(), settings.lease());
            if (claim.isEmpty()) {
                continue; // another server took it
            }
            Records.Job job = store.job(a.jobId()).orElseThrow();
            emit(a.jobId(), "state", "{\"state\":\"running\"}");
            Running r = new Running(claim.get(), a, job, need);
            running.put(a.jobId(), r);
            try {
                jobThreads.execute(() -> runJob(r));
            } catch (java.util.concurrent.RejectedExecutionException e) {
                running.remove(a.jobId()); // shutting down between the claim and the start: give it back
                store.release(r.claim, "server " + settings.serverId() + " shut down");
            }
        }
    }

    private void heartbeatLoop() {
        while (!stopping.get()) {
            for (Running r : running.values()) {
                try {
                    r.flushEvents(); // an epoch's event waits at most a heartbeat when no other event follows it
                    Records.Heartbeat hb = store.heartbeat(r.claim, settings.lease(), r.lastProgress);
                    if (!hb.leaseHeld()) {
                        r.lost.set(true);
                    } else if (hb.cancelRequested()) {
                        r.cancel.set(true);
                    }
                } catch (RuntimeException e) {
                    LOG.log(Level.WARNING, "heartbeat of job " + r.claim.jobId() + " failed", e);
                }
            }
            try {
                Thread.sleep(settings.heartbeat().toMillis());
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private void runJob(Running r) {
        long id = r.claim.jobId();
        // the job's kernels run at settings.jobNice() on kernel threads (JobRunner); this thread keeps the server's priority
        try {
            JobSpec spec = JobSpec.parse(Json.parse(r.job.spec()));
            ObjectNode result;
            try {
                result = runner.run(spec, r);
            } finally {
                r.flushEvents(); // the log is complete before the job's final state
            }
            boolean finished;
            try {
                finished = store.finish(r.claim, JobState.SUCCEEDED, result.toString(), null);
            } catch (RuntimeException e) {
                // the job did its work (a version may be registered and promoted): not a failure of the job. Its
                // lease runs out, it is queued again, and the next attempt finds what this one registered.
                LOG.log(Level.WARNING, "job " + id + " succeeded but its end could not be stored; it will be "
                        + "taken up again once its lease expires", e);
                return;
            }
            if (!finished) {
                LOG.warning("job " + id + " finished after its lease was lost; another attempt owns it");
            } else {
                cleanWorkDir(id, result.has("model_file") ? Path.of(result.get("model_file").asText()).getFileName()
                        .toString() : null);
            }
        } catch (JobCancelledException e) {
            if (r.lost.get()) {
                // its files stay: the job's last checkpoint record may be this attempt's, and its successor resumes
                // from it (the successor removes them once its own first checkpoint is recorded)
                LOG.warning("job " + id + " stopped: its lease was lost");
            } else if (r.shutdown.get() && !r.cancel.get()) {
                store.release(r.claim, "server " + settings.serverId() + " shut down"); // resumes from its checkpoint
            } else {
                store.finish(r.claim, JobState.CANCELLED, null, "cancelled");
                cleanWorkDir(id, null);
            }
        } catch (ConfigException e) {
            finishFailed(r, e.getMessage());
        } catch (RuntimeException | Error e) {
            LOG.log(Level.WARNING, "job " + id + " failed", e);
            finishFailed(r, ConfigException.reasonOf(e));
        } finally {
            running.remove(id);
            emit(id, "state", "{}"); // listeners read the final state from the store
            signal();
        }
    }

    private void finishFailed(Running r, String error) {
        if (!r.lost.get()) {
            store.finish(r.claim, JobState.FAILED, null, error);
            cleanWorkDir(r.claim.jobId(), null);
        }
    }

    /**
     * A finished job's work directory: its checkpoints (the model and optimizer state, twice) are of no use once it
     * ended, and nothing else removed them: each job left them on the disk for good. Only the model an admin's job
     * keeps as its result ({@code keptModel}, the file name its stored result gives; null for none) stays.
     */
    private void cleanWorkDir(long id, String keptModel) {
        Path d = workDirOf(id);
        if (keptModel == null || !Files.isDirectory(d)) {
            DatasetCatalog.deleteTree(d);
            return;
        }
        try (java.util.stream.Stream<Path> files = Files.list(d)) {
            files.filter(f -> !f.getFileName().toString().equals(keptModel)).forEach(DatasetCatalog::deleteTree);
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "cannot clean the work directory of job " + id, e);
        }
    }

    /** Where job {@code id} keeps its checkpoints (and an admin's job its model). */
    private Path workDirOf(long id) {
        return settings.workRoot().resolve("job-" + id);
    }

    private void emit(long jobId, String kind, String payload) {
        for (Listener l : listeners) {
            try {
                l.onEvent(jobId, kind, payload);
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "job event listener failed", e);
            }
        }
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /** A job running in this process: its claim, its resources, and the flags that stop it. */
    private final class Running implements JobContext {
        final Records.Claim claim;
        final Allocation allocation;
        /** The data this job holds at most ({@link #dataCopies} copies of its data set). */
        final long dataBytes;
        final Records.Job job;
        final AtomicBoolean cancel = new AtomicBoolean();
        final AtomicBoolean lost = new AtomicBoolean();
        final AtomicBoolean shutdown = new AtomicBoolean();
        /** The latest progress or epoch event, stored with the next heartbeat (what "jobs get" shows). */
        volatile String lastProgress;
        /** The job's event log: epochs' events coalesced into a write at most every eventInterval. */
        final EventWriter log;

        Running(Records.Claim claim, Allocation allocation, Records.Job job, long dataBytes) {
            this.dataBytes = dataBytes;
            this.claim = claim;
            this.allocation = allocation;
            this.job = job;
            this.log = new EventWriter(this::writeEvents, settings.eventInterval(), System::nanoTime);
        }

        @Override
        public long jobId() {
            return claim.jobId();
        }

        @Override
        public String owner() {
            return job.owner();
        }

        @Override
        public Path workDir() {
            Path d = workDirOf(claim.jobId());
            try {
                Files.createDirectories(d);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create the job's work directory", e);
            }
            return d;
        }

        @Override
        public int attempt() {
            return claim.attempt();
        }

        @Override
        public boolean cancelRequested() {
            return cancel.get() || lost.get() || shutdown.get();
        }

        @Override
        public void event(JobEvent e) {
            if (e.kind().equals("progress") || e.kind().equals("epoch")) {
                lastProgress = e.payloadJson();
            }
            if (e.kind().equals("progress")) {
                // progress (at most one a second) goes with the heartbeat, not into the event log
                emit(claim.jobId(), e.kind(), e.payloadJson());
            } else if (!log.add(e)) {
                lost.set(true);
            }
        }

        /** Writes a batch of this job's events to the store, then tells the listeners (streams read the store). */
        private boolean writeEvents(List<JobEvent> batch) {
            List<Map.Entry<String, String>> rows = new ArrayList<>(batch.size());
            for (JobEvent e : batch) {
                rows.add(Map.entry(e.kind(), e.payloadJson()));
            }
            boolean held = store.appendEvents(claim, rows);
            if (held) {
                rows.forEach(r -> emit(claim.jobId(), r.getKey(), r.getValue()));
            }
            return held;
        }

        /** Writes the events still waiting (before a checkpoint record, a heartbeat, the job's end). */
        void flushEvents() {
            if (!log.flush()) {
                lost.set(true);
            }
        }

        @Override
        public void trial(TrialRecord t) {
            if (lost.get()) {
                return; // another server may be running the job now
            }
            store.putTrial(claim, t.id(), t.state().jsonName(), t.toJson().toString());
        }

        @Override
        public List<TrialRecord> pastTrials() {
            List<TrialRecord> out = new ArrayList<>();
            for (Records.Trial t : store.trials(claim.jobId())) {
                out.add(TrialRecord.fromJson(Json.parse(t.record()))); // ConfigException: the runner starts afresh
            }
            return out;
        }

        @Override
        public Optional<ObjectNode> lastCheckpoint() {
            Optional<Records.Job> now = store.job(claim.jobId());
            return now.map(Records.Job::checkpoint).filter(c -> c != null && !c.isEmpty())
                    .map(c -> (ObjectNode) Json.parse(c));
        }

        @Override
        public void checkpointed(ObjectNode checkpoint) {
            flushEvents(); // the epochs' events before the checkpoint that counts them
            if (!store.checkpoint(claim, checkpoint.toString())) {
                lost.set(true);
            }
        }

        @Override
        public List<Integer> gpus() {
            return allocation.gpus();
        }

        @Override
        public int cpus() {
            return allocation.cpus();
        }

        @Override
        public List<ObjectNode> pastEvents(String kind) {
            List<ObjectNode> out = new ArrayList<>();
            long after = 0;
            for (List<Records.Event> page; !(page = store.events(claim.jobId(), after, 1000)).isEmpty(); ) {
                for (Records.Event e : page) {
                    if (e.kind().equals(kind)) {
                        out.add((ObjectNode) Json.parse(e.payload()));
                    }
                }
                after = page.get(page.size() - 1).seq();
            }
            return out;
        }
    }
}
