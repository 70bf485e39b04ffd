package io.dense4j.service.store;

import io.dense4j.service.job.JobState;
import io.dense4j.service.store.Records.CancelOutcome;
import io.dense4j.service.store.Records.Claim;
import io.dense4j.service.store.Records.Dataset;
import io.dense4j.service.store.Records.Event;
import io.dense4j.service.store.Records.Heartbeat;
import io.dense4j.service.store.Records.Job;
import io.dense4j.service.store.Records.JobSummary;
import io.dense4j.service.store.Records.NewJob;
import io.dense4j.service.store.Records.Trial;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Jobs, trials, data sets and job events in plain JDBC, with the same SQL on SQLite and PostgreSQL except where
 * noted. Several servers may share one database.
 *
 * <h2>Claiming</h2>
 * A queued job becomes running only through {@link #claim}: on PostgreSQL {@code SELECT ... FOR UPDATE SKIP LOCKED}
 * picks the row (a server never waits on a row another server is claiming) and an UPDATE takes it; on SQLite a
 * single conditional {@code UPDATE ... WHERE state = 'queued'} does (writers are serialized, so exactly one sees the
 * row still queued). Either way two servers never both get the job. The claim increments the job's attempt number
 * and starts its lease.
 *
 * <h2>Leases</h2>
 * The claimer renews the lease with {@link #heartbeat} (which also tells it about a cancel request) well within the
 * lease duration. {@link #recoverExpired} (run by every server periodically) puts a job whose lease expired back in
 * the queue, keeping its checkpoint so the next claimer resumes from it; after {@code maxAttempts} claims it fails
 * it instead (a job that kills its server must not kill every server in turn), and a job whose cancellation was
 * requested becomes cancelled. Every runner write ({@link #finish}, {@link #checkpoint}, {@link #heartbeat},
 * {@link #appendEvent}, {@link #putTrial}) names its {@link Claim} and changes nothing once the attempt is no
 * longer the current one: a server that lost its lease cannot report success for work another server now owns.
 *
 * <h2>Data sets in use</h2>
 * Inserting a job locks its data set's row (PostgreSQL {@code FOR SHARE}) and deleting a data set locks it
 * {@code FOR UPDATE} before counting the queued and running jobs that use it (SQLite: both are write transactions,
 * hence serialized), so a data set can never be deleted under a job that was just queued on it.
 */
public final class JobStore {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String JOB_COLUMNS = "id, type, state, owner, priority, cpus, gpus, dataset_sha256, spec, "
            + "submitted_at, started_at, finished_at, server, attempt, lease_expires_at, cancel_requested, progress, "
            + "checkpoint, result, error";

    private final Database db;
    private final Clock clock;
    private final int maxAttempts;

    /** Opens the store and migrates its schema. {@code maxAttempts}: claims of one job before it is failed. */
    public JobStore(Database db, Clock clock, int maxAttempts) {
        if (maxAttempts < 1) {
            throw new IllegalArgumentException("maxAttempts must be >= 1");
        }
        this.db = db;
        this.clock = clock;
        this.maxAttempts = maxAttempts;
        Migrations.migrate(db);
        summarizeEarlierJobs();
    }

    /** Fills in the list columns of jobs queued before they existed (schema version 4), a batch at a time. */
    private void summarizeEarlierJobs() {
        while (tx(c -> {
            List<Object[]> rows = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT id, spec, result FROM jobs WHERE summarized = 0 "
                    + "ORDER BY id LIMIT 200"); ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    rows.add(new Object[] {rs.getLong(1), rs.getString(2), rs.getString(3)});
                }
            }
            for (Object[] r : rows) {
                JsonNode spec = io.dense4j.tune.Json.parse((String) r[1]);
                try (PreparedStatement ps = c.prepareStatement("UPDATE jobs SET name = ?, register_as = ?, "
                        + "result_summary = ?, summarized = 1 WHERE id = ?")) {
                    ps.setString(1, JobSummaries.name(spec));
                    ps.setString(2, JobSummaries.registerAs(spec));
                    ps.setString(3, JobSummaries.ofResult((String) r[2]));
                    ps.setLong(4, (Long) r[0]);
                    ps.executeUpdate();
                }
            }
            return !rows.isEmpty();
        })) {
            // next batch
        }
    }

    public JobStore(Database db) {
        this(db, Clock.systemUTC(), 3);
    }

    public Database database() {
        return db;
    }

    private long now() {
        return clock.millis();
    }

    // ------------------------------------------------------------------------------------------ data sets

    /** Records a data set; an existing record with the same SHA-256 is kept (content-addressed). Returns the stored one. */
    public Dataset putDataset(Dataset d) {
        return tx(c -> {
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO datasets (sha256, name, format, rows_count, "
                    + "features, classes, class_names, location, size_bytes, created_at, created_by, details) "
                    + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING")) {
                ps.setString(1, d.sha256());
                ps.setString(2, d.name());
                ps.setString(3, d.format());
                ps.setLong(4, d.rows());
                ps.setInt(5, d.features());
                ps.setInt(6, d.classes());
                ps.setString(7, json(d.classNames()));
                ps.setString(8, d.location());
                ps.setLong(9, d.sizeBytes());
                ps.setLong(10, d.createdAt());
                ps.setString(11, d.createdBy());
                ps.setString(12, d.details());
                ps.executeUpdate();
            }
            return datasetIn(c, d.sha256(), "").orElseThrow();
        });
    }

    public Optional<Dataset> dataset(String sha256) {
        return tx(c -> datasetIn(c, sha256, ""));
    }

    /**
     * Changes who holds a data set: its owner ({@code created_by}, whose quota counts it) and its details (the other
     * holders). {@code change} maps the record read under the row's lock to the new owner and details; returns the
     * record as written.
     */
    public Dataset changeDatasetHolders(String sha256, java.util.function.UnaryOperator<Dataset> change) {
        return tx(c -> {
            Dataset d = datasetIn(c, sha256, pg(" FOR UPDATE")).orElseThrow(() ->
                    new StoreException(StoreException.Kind.NOT_FOUND, "no data set " + sha256));
            Dataset n = change.apply(d);
            try (PreparedStatement ps = c.prepareStatement("UPDATE datasets SET created_by = ?, details = ? WHERE sha256 = ?")) {
                ps.setString(1, n.createdBy());
                ps.setString(2, n.details());
                ps.setString(3, sha256);
                ps.executeUpdate();
            }
            return datasetIn(c, sha256, "").orElseThrow();
        });
    }

    public List<Dataset> datasets() {
        return tx(c -> {
            List<Dataset> out = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT * FROM datasets ORDER BY created_at, sha256");
                 ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(dataset(rs));
                }
            }
            return out;
        });
    }

    /**
     * Deletes a data set's record (the caller removes its files after this succeeds).
     *
     * @throws StoreException NOT_FOUND when unknown, CONFLICT naming the jobs that still use it
     */
    public Dataset deleteDataset(String sha256) {
        return tx(c -> {
            Dataset d = datasetIn(c, sha256, pg(" FOR UPDATE")).orElseThrow(() ->
                    new StoreException(StoreException.Kind.NOT_FOUND, "no data set " + sha256));
            List<Long> users = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT id FROM jobs WHERE dataset_sha256 = ? "
                    + "AND state IN ('queued', 'running') ORDER BY id")) {
                ps.setString(1, sha256);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        users.add(rs.getLong(1));
                    }
                }
            }
            if (!users.isEmpty()) {
                throw new StoreException(StoreException.Kind.CONFLICT, "data set " + sha256 + " is used by "
                        + (users.size() == 1 ? "job " + users.get(0) : "jobs " + users) + "; delete it once "
                        + (users.size() == 1 ? "it has" : "they have") + " finished");
            }
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM datasets WHERE sha256 = ?")) {
                ps.setString(1, sha256);
                ps.executeUpdate();
            }
            return d;
        });
    }

    private Optional<Dataset> datasetIn(Connection c, String sha256, String lock) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT * FROM datasets WHERE sha256 = ?" + lock)) {
            ps.setString(1, sha256);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(dataset(rs)) : Optional.empty();
            }
        }
    }

    private static Dataset dataset(ResultSet rs) throws SQLException {
        return new Dataset(rs.getString("sha256"), rs.getString("name"), rs.getString("format"), rs.getLong("rows_count"),
                rs.getInt("features"), rs.getInt("classes"), fromJson(rs.getString("class_names")),
                rs.getString("location"), rs.getLong("size_bytes"), rs.getLong("created_at"), rs.getString("created_by"),
                rs.getString("details"));
    }

    // ------------------------------------------------------------------------------------------ jobs

    /**
     * Queues a job.
     *
     * @throws StoreException NOT_FOUND when its data set is not known
     */
    public Job insertJob(NewJob j) {
        return tx(c -> {
            if (j.datasetSha256() != null && datasetIn(c, j.datasetSha256(), pg(" FOR SHARE")).isEmpty()) {
                throw new StoreException(StoreException.Kind.NOT_FOUND, "no data set " + j.datasetSha256()
                        + " (upload it first: POST /v1/datasets)");
            }
            long id;
            JsonNode spec = io.dense4j.tune.Json.parse(j.spec());
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO jobs (type, state, owner, priority, cpus, gpus, "
                    + "dataset_sha256, spec, submitted_at, name, register_as, summarized) "
                    + "VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) RETURNING id")) {
                ps.setString(1, j.type());
                ps.setString(2, j.owner());
                ps.setInt(3, j.priority());
                ps.setInt(4, j.cpus());
                ps.setInt(5, j.gpus());
                ps.setString(6, j.datasetSha256());
                ps.setString(7, j.spec());
                ps.setLong(8, now());
                ps.setString(9, JobSummaries.name(spec));
                ps.setString(10, JobSummaries.registerAs(spec));
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    id = rs.getLong(1);
                }
            }
            event(c, id, "state", "{\"state\":\"queued\"}");
            return jobIn(c, id, "").orElseThrow();
        });
    }

    public Optional<Job> job(long id) {
        return tx(c -> jobIn(c, id, ""));
    }

    /** The columns of a {@link JobSummary}: neither the spec, nor the checkpoint, nor the result. */
    private static final String SUMMARY_COLUMNS = "id, type, state, owner, priority, cpus, gpus, dataset_sha256, name, "
            + "register_as, submitted_at, started_at, finished_at, server, attempt, cancel_requested, progress, "
            + "result_summary, error";

    /**
     * Jobs as lists show them, newest first, optionally of one owner and/or in one state, with ids below
     * {@code beforeId} (null: from the newest): a page of at most {@code limit}.
     */
    public List<JobSummary> jobSummaries(String owner, JobState state, Long beforeId, int limit) {
        return tx(c -> {
            StringBuilder sql = new StringBuilder("SELECT " + SUMMARY_COLUMNS + " FROM jobs WHERE 1 = 1");
            if (owner != null) {
                sql.append(" AND owner = ?");
            }
            if (state != null) {
                sql.append(" AND state = ?");
            }
            if (beforeId != null) {
                sql.append(" AND id < ?");
            }
            sql.append(" ORDER BY id DESC LIMIT ?");
            try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
                int i = 1;
                if (owner != null) {
                    ps.setString(i++, owner);
                }
                if (state != null) {
                    ps.setString(i++, state.dbName());
                }
                if (beforeId != null) {
                    ps.setLong(i++, beforeId);
                }
                ps.setInt(i, limit);
                List<JobSummary> out = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        out.add(new JobSummary(rs.getLong("id"), rs.getString("type"),
                                JobState.fromDb(rs.getString("state")), rs.getString("owner"), rs.getInt("priority"),
                                rs.getInt("cpus"), rs.getInt("gpus"), rs.getString("dataset_sha256"),
                                rs.getString("name"), rs.getString("register_as"), rs.getLong("submitted_at"),
                                nullableLong(rs, "started_at"), nullableLong(rs, "finished_at"), rs.getString("server"),
                                rs.getInt("attempt"), rs.getInt("cancel_requested") != 0, rs.getString("progress"),
                                rs.getString("result_summary"), rs.getString("error")));
                    }
                }
                return out;
            }
        });
    }

    /** Queued jobs in scheduling order (priority, then submission). */
    public List<Job> queued() {
        return tx(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT " + JOB_COLUMNS
                    + " FROM jobs WHERE state = 'queued' ORDER BY priority DESC, id")) {
                return jobs(ps);
            }
        });
    }

    /** The specs of every queued or running job (to see which models they will register). */
    public List<String> activeSpecs() {
        return tx(c -> {
            List<String> out = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT spec FROM jobs WHERE state IN ('queued', 'running')");
                 ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(rs.getString(1));
                }
            }
            return out;
        });
    }

    /** Jobs of {@code owner} in {@code state}, over every server sharing the database. */
    public int count(String owner, JobState state) {
        return tx(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT COUNT(*) FROM jobs WHERE owner = ? AND state = ?")) {
                ps.setString(1, owner);
                ps.setString(2, state.dbName());
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return rs.getInt(1);
                }
            }
        });
    }

    /** Running jobs per owner, over every server sharing the database. */
    public Map<String, Integer> runningPerOwner() {
        return tx(c -> {
            Map<String, Integer> m = new HashMap<>();
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT owner, COUNT(*) FROM jobs WHERE state = 'running' GROUP BY owner");
                 ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    m.put(rs.getString(1), rs.getInt(2));
                }
            }
            return m;
        });
    }

    /** Claims a queued job for {@code server}; empty when it is no longer queued (another server took it). */
    public Optional<Claim> claim(long jobId, String server, Duration lease) {
        return tx(c -> {
            if (db.dialect() == Database.Dialect.POSTGRESQL) {
                try (PreparedStatement ps = c.prepareStatement(
                        "SELECT id FROM jobs WHERE id = ? AND state = 'queued' FOR UPDATE SKIP LOCKED")) {
                    ps.setLong(1, jobId);
                    try (ResultSet rs = ps.executeQuery()) {
                        if (!rs.next()) {
                            return Optional.empty();
                        }
                    }
                }
            }
            return take(c, jobId, server, lease);
        });
    }

    /** Claims the first queued job in scheduling order, whatever it is (for simple workers and tests). */
    public Optional<Claim> claimNext(String server, Duration lease) {
        return tx(c -> {
            String pick = "SELECT id FROM jobs WHERE state = 'queued' ORDER BY priority DESC, id LIMIT 1"
                    + pg(" FOR UPDATE SKIP LOCKED");
            long id;
            try (PreparedStatement ps = c.prepareStatement(pick); ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                id = rs.getLong(1);
            }
            return take(c, id, server, lease);
        });
    }

    private Optional<Claim> take(Connection c, long id, String server, Duration lease) throws SQLException {
        long now = now();
        int attempt;
        try (PreparedStatement ps = c.prepareStatement("UPDATE jobs SET state = 'running', server = ?, "
                + "attempt = attempt + 1, lease_expires_at = ?, started_at = COALESCE(started_at, ?) "
                + "WHERE id = ? AND state = 'queued' RETURNING attempt")) {
            ps.setString(1, server);
            ps.setLong(2, now + lease.toMillis());
            ps.setLong(3, now);
            ps.setLong(4, id);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                attempt = rs.getInt(1);
            }
        }
        event(c, id, "state", "{\"state\":\"running\",\"server\":" + json(server) + ",\"attempt\":" + attempt + "}");
        return Optional.of(new Claim(id, server, attempt));
    }

    /** Renews the lease and stores the progress (JSON, may be null). */
    public Heartbeat heartbeat(Claim claim, Duration lease, String progress) {
        return tx(c -> {
            try (PreparedStatement ps = c.prepareStatement("UPDATE jobs SET lease_expires_at = ?, "
                    + "progress = COALESCE(?, progress) WHERE id = ? AND attempt = ? AND state = 'running' "
                    + "RETURNING cancel_requested")) {
                ps.setLong(1, now() + lease.toMillis());
                ps.setString(2, progress);
                ps.setLong(3, claim.jobId());
                ps.setInt(4, claim.attempt());
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? new Heartbeat(true, rs.getInt(1) != 0) : new Heartbeat(false, false);
                }
            }
        });
    }

    /** Records the job's last checkpoint (JSON: where and after how many epochs). False when the lease was lost. */
    public boolean checkpoint(Claim claim, String checkpoint) {
        return tx(c -> {
            try (PreparedStatement ps = c.prepareStatement("UPDATE jobs SET checkpoint = ? "
                    + "WHERE id = ? AND attempt = ? AND state = 'running'")) {
                ps.setString(1, checkpoint);
                ps.setLong(2, claim.jobId());
                ps.setInt(3, claim.attempt());
                return ps.executeUpdate() == 1;
            }
        });
    }

    /**
     * Ends a running attempt: succeeded (with its result JSON), failed (with the error) or cancelled. False, and
     * nothing changed, when the claim is no longer the job's current attempt.
     */
    public boolean finish(Claim claim, JobState state, String result, String error) {
        if (!state.terminal()) {
            throw new IllegalArgumentException("finish takes a final state, not " + state.dbName());
        }
        return tx(c -> {
            try (PreparedStatement ps = c.prepareStatement("UPDATE jobs SET state = ?, finished_at = ?, result = ?, "
                    + "result_summary = ?, error = ?, lease_expires_at = NULL WHERE id = ? AND attempt = ? "
                    + "AND state = 'running'")) {
                ps.setString(1, state.dbName());
                ps.setLong(2, now());
                ps.setString(3, result);
                ps.setString(4, JobSummaries.ofResult(result));
                ps.setString(5, error);
                ps.setLong(6, claim.jobId());
                ps.setInt(7, claim.attempt());
                if (ps.executeUpdate() != 1) {
                    return false;
                }
            }
            event(c, claim.jobId(), "state", "{\"state\":\"" + state.dbName() + "\""
                    + (error == null ? "" : ",\"error\":" + json(error)) + "}");
            return true;
        });
    }

    /**
     * Gives a running job back to the queue (this server is shutting down): it keeps its checkpoint and the next
     * claimer resumes from it. False when the claim is no longer current.
     */
    public boolean release(Claim claim, String reason) {
        return tx(c -> {
            try (PreparedStatement ps = c.prepareStatement("UPDATE jobs SET state = 'queued', server = NULL, "
                    + "lease_expires_at = NULL, releases = releases + 1 WHERE id = ? AND attempt = ? "
                    + "AND state = 'running'")) {
                ps.setLong(1, claim.jobId());
                ps.setInt(2, claim.attempt());
                if (ps.executeUpdate() != 1) {
                    return false;
                }
            }
            event(c, claim.jobId(), "state", "{\"state\":\"queued\",\"reason\":" + json(reason) + "}");
            return true;
        });
    }

    /** Cancels a queued job at once, or asks the running one's server to stop it (it sees the request in its heartbeat). */
    public CancelOutcome requestCancel(long jobId) {
        return tx(c -> {
            Job j = jobIn(c, jobId, pg(" FOR UPDATE")).orElseThrow(() ->
                    new StoreException(StoreException.Kind.NOT_FOUND, "no job " + jobId));
            switch (j.state()) {
                case QUEUED -> {
                    try (PreparedStatement ps = c.prepareStatement("UPDATE jobs SET state = 'cancelled', "
                            + "finished_at = ?, error = 'cancelled before it started' WHERE id = ? AND state = 'queued'")) {
                        ps.setLong(1, now());
                        ps.setLong(2, jobId);
                        ps.executeUpdate();
                    }
                    event(c, jobId, "state", "{\"state\":\"cancelled\"}");
                    return CancelOutcome.CANCELLED;
                }
                case RUNNING -> {
                    try (PreparedStatement ps = c.prepareStatement(
                            "UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND state = 'running'")) {
                        ps.setLong(1, jobId);
                        ps.executeUpdate();
                    }
                    event(c, jobId, "cancel_requested", "{}");
                    return CancelOutcome.REQUESTED;
                }
                default -> {
                    return CancelOutcome.ALREADY_FINISHED;
                }
            }
        });
    }

    /**
     * Running jobs whose lease has expired (their server died or hung): re-queued to resume from their checkpoint,
     * failed after {@code maxAttempts} claims, cancelled when a cancel was requested. Returns the jobs changed.
     */
    public List<Job> recoverExpired() {
        return recoverExpired(Set.of());
    }

    /**
     * {@link #recoverExpired()}, except the claims in {@code alive}: those the calling server is running right now.
     * Their lease only looks expired because its heartbeat came late (a stalled disk, a busy machine); the server
     * knows better, and its next heartbeat renews the lease. (Re-queued, such a job would only be claimed again,
     * resumed from its checkpoint, and after {@code maxAttempts} late heartbeats failed, though it never stopped.)
     * Other servers still take it over once the lease is expired: to them its server may be gone.
     */
    public List<Job> recoverExpired(Set<Claim> alive) {
        return tx(c -> {
            long now = now();
            List<long[]> changed = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT id, attempt, cancel_requested, server, releases "
                    + "FROM jobs WHERE state = 'running' AND lease_expires_at < ? ORDER BY id"
                    + pg(" FOR UPDATE SKIP LOCKED"))) {
                ps.setLong(1, now);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        if (!alive.contains(new Claim(rs.getLong(1), rs.getString(4), rs.getInt(2)))) {
                            changed.add(new long[] {rs.getLong(1), rs.getInt(2), rs.getInt(3), rs.getInt(5)});
                        }
                    }
                }
            }
            List<Job> out = new ArrayList<>();
            for (long[] row : changed) {
                long id = row[0];
                int attempt = (int) row[1];
                // the claims its servers gave back on a planned shutdown are not failures: they do not count
                int crashes = (int) (row[1] - row[3]);
                JobState to = row[2] != 0 ? JobState.CANCELLED : crashes >= maxAttempts ? JobState.FAILED : JobState.QUEUED;
                String error = switch (to) {
                    case CANCELLED -> "cancelled (its server stopped while running it)";
                    case FAILED -> "its server stopped responding while running it, " + crashes + " time"
                            + (crashes == 1 ? "" : "s") + "; not retried again";
                    default -> null;
                };
                try (PreparedStatement ps = c.prepareStatement("UPDATE jobs SET state = ?, server = NULL, "
                        + "lease_expires_at = NULL, finished_at = ?, error = ? "
                        + "WHERE id = ? AND attempt = ? AND state = 'running'")) {
                    ps.setString(1, to.dbName());
                    if (to.terminal()) {
                        ps.setLong(2, now);
                    } else {
                        ps.setNull(2, Types.BIGINT);
                    }
                    ps.setString(3, error);
                    ps.setLong(4, id);
                    ps.setInt(5, attempt);
                    if (ps.executeUpdate() != 1) {
                        continue;
                    }
                }
                event(c, id, "state", "{\"state\":\"" + to.dbName() + "\",\"reason\":\"lease expired\""
                        + (error == null ? "" : ",\"error\":" + json(error)) + "}");
                out.add(jobIn(c, id, "").orElseThrow());
            }
            return out;
        });
    }

    private Optional<Job> jobIn(Connection c, long id, String lock) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT " + JOB_COLUMNS + " FROM jobs WHERE id = ?" + lock)) {
            ps.setLong(1, id);
            List<Job> js = jobs(ps);
            return js.isEmpty() ? Optional.empty() : Optional.of(js.get(0));
        }
    }

    private static List<Job> jobs(PreparedStatement ps) throws SQLException {
        List<Job> out = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                out.add(new Job(rs.getLong("id"), rs.getString("type"), JobState.fromDb(rs.getString("state")),
                        rs.getString("owner"), rs.getInt("priority"), rs.getInt("cpus"), rs.getInt("gpus"),
                        rs.getString("dataset_sha256"), rs.getString("spec"), rs.getLong("submitted_at"),
                        nullableLong(rs, "started_at"), nullableLong(rs, "finished_at"), rs.getString("server"),
                        rs.getInt("attempt"), nullableLong(rs, "lease_expires_at"), rs.getInt("cancel_requested") != 0,
                        rs.getString("progress"), rs.getString("checkpoint"), rs.getString("result"),
                        rs.getString("error")));
            }
        }
        return out;
    }

    private static Long nullableLong(ResultSet rs, String col) throws SQLException {
        long v = rs.getLong(col);
        return rs.wasNull() ? null : v;
    }

    // ------------------------------------------------------------------------------------------ trials and events

    /** Records (or updates) a trial of a tune job. False when the claim is no longer current. */
    public boolean putTrial(Claim claim, int trial, String state, String record) {
        return tx(c -> {
            if (!holds(c, claim)) {
                return false;
            }
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO trials (job_id, trial, attempt, state, record, "
                    + "updated_at, summary) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job_id, trial) DO UPDATE SET "
                    + "attempt = excluded.attempt, state = excluded.state, record = excluded.record, "
                    + "updated_at = excluded.updated_at, summary = excluded.summary")) {
                ps.setLong(1, claim.jobId());
                ps.setInt(2, trial);
                ps.setInt(3, claim.attempt());
                ps.setString(4, state);
                ps.setString(5, record);
                ps.setLong(6, now());
                ps.setString(7, summaryOf(record));
                ps.executeUpdate();
            }
            return true;
        });
    }

    /** A trial record's summary (TrialRecord.summarize): what a job's view shows of it. */
    private static String summaryOf(String record) {
        return io.dense4j.tune.TrialRecord.summarize(io.dense4j.tune.Json.parse(record)).toString();
    }

    /**
     * A page of a job's trial summaries ({@code [trial, summary JSON]}), by trial number, after {@code afterTrial}, at
     * most {@code limit}. Read from the summary column: a job's view never reads the full records (hundreds of MB
     * for a large search). Trials stored before the column existed are summarized from their record.
     */
    public List<Map.Entry<Integer, String>> trialSummaries(long jobId, int afterTrial, int limit) {
        return tx(c -> {
            List<Map.Entry<Integer, String>> out = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT trial, summary FROM trials WHERE job_id = ? "
                    + "AND trial > ? ORDER BY trial LIMIT ?")) {
                ps.setLong(1, jobId);
                ps.setInt(2, afterTrial);
                ps.setInt(3, limit);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        out.add(Map.entry(rs.getInt(1), rs.getString(2) == null ? "" : rs.getString(2)));
                    }
                }
            }
            for (int i = 0; i < out.size(); i++) {
                if (out.get(i).getValue().isEmpty()) { // stored before schema version 6
                    int trial = out.get(i).getKey();
                    try (PreparedStatement ps = c.prepareStatement("SELECT record FROM trials WHERE job_id = ? AND trial = ?")) {
                        ps.setLong(1, jobId);
                        ps.setInt(2, trial);
                        try (ResultSet rs = ps.executeQuery()) {
                            out.set(i, Map.entry(trial, rs.next() ? summaryOf(rs.getString(1)) : "{}"));
                        }
                    }
                }
            }
            return out;
        });
    }

    /** Whether a job has a trial after {@code afterTrial} (without reading its record). */
    public boolean hasTrialAfter(long jobId, int afterTrial) {
        return tx(c -> {
            try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM trials WHERE job_id = ? AND trial > ? LIMIT 1")) {
                ps.setLong(1, jobId);
                ps.setInt(2, afterTrial);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next();
                }
            }
        });
    }

    public List<Trial> trials(long jobId) {
        return trials(jobId, -1, Integer.MAX_VALUE, Long.MAX_VALUE);
    }

    /**
     * A page of a job's trials, by trial number: those after {@code afterTrial}, at most {@code limit}, and at most
     * {@code maxChars} characters of records together (but always one, however large: a page must move on). A search's records can hold millions of metrics; read whole, one request held all of them at once.
     */
    public List<Trial> trials(long jobId, int afterTrial, int limit, long maxChars) {
        return tx(c -> {
            List<Trial> out = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT job_id, trial, attempt, state, record, updated_at "
                    + "FROM trials WHERE job_id = ? AND trial > ? ORDER BY trial LIMIT ?")) {
                ps.setLong(1, jobId);
                ps.setInt(2, afterTrial);
                ps.setInt(3, limit);
                ps.setFetchSize(Math.min(limit, 64));
                long chars = 0;
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        Trial t = new Trial(rs.getLong(1), rs.getInt(2), rs.getInt(3), rs.getString(4), rs.getString(5),
                                rs.getLong(6));
                        chars += t.record().length();
                        if (chars > maxChars && !out.isEmpty()) {
                            break; // the next page starts with it
                        }
                        out.add(t);
                    }
                }
            }
            return out;
        });
    }

    /** Appends a runner event (epoch metrics, progress, trial result). False when the claim is no longer current. */
    public boolean appendEvent(Claim claim, String kind, String payload) {
        return appendEvents(claim, List.of(Map.entry(kind, payload)));
    }

    /**
     * Appends runner events (kind, payload JSON) in order, in one transaction: all or, when the claim is no longer
     * current, none (false).
     */
    public boolean appendEvents(Claim claim, List<Map.Entry<String, String>> events) {
        return tx(c -> {
            if (!holds(c, claim)) {
                return false;
            }
            for (Map.Entry<String, String> e : events) {
                event(c, claim.jobId(), e.getKey(), e.getValue());
            }
            return true;
        });
    }

    /** Events of a job after {@code afterSeq}, oldest first (what a live stream replays and then follows). */
    public List<Event> events(long jobId, long afterSeq, int limit) {
        return tx(c -> {
            List<Event> out = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT seq, job_id, at, kind, payload FROM job_events "
                    + "WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?")) {
                ps.setLong(1, jobId);
                ps.setLong(2, afterSeq);
                ps.setInt(3, limit);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        out.add(new Event(rs.getLong(1), rs.getLong(2), rs.getLong(3), rs.getString(4), rs.getString(5)));
                    }
                }
            }
            return out;
        });
    }

    private boolean holds(Connection c, Claim claim) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM jobs WHERE id = ? AND attempt = ? "
                + "AND state = 'running'" + pg(" FOR SHARE"))) {
            ps.setLong(1, claim.jobId());
            ps.setInt(2, claim.attempt());
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    private void event(Connection c, long jobId, String kind, String payload) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "INSERT INTO job_events (job_id, at, kind, payload) VALUES (?, ?, ?, ?)")) {
            ps.setLong(1, jobId);
            ps.setLong(2, now());
            ps.setString(3, kind);
            ps.setString(4, payload);
            ps.executeUpdate();
        }
    }

    // ------------------------------------------------------------------------------------------ plumbing

    private String pg(String clause) {
        return db.dialect() == Database.Dialect.POSTGRESQL ? clause : "";
    }

    private <T> T tx(Database.Work<T> work) {
        return db.transaction(work);
    }

    private static String json(Object o) {
        try {
            return JSON.writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static List<String> fromJson(String s) {
        try {
            return JSON.readValue(s, new TypeReference<List<String>>() {});
        } catch (JsonProcessingException e) {
            throw new StoreException("corrupt class_names in the state store: " + e.getOriginalMessage());
        }
    }
}
