package io.dense4j.service.store;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Versioned schema migrations, applied in order, each in its own transaction, recorded in {@code schema_version}
 * with a checksum of its SQL. A small runner of our own rather than Flyway: the schema is a handful of tables, the
 * two dialects need different DDL for generated keys anyway, and Flyway's SQLite support lives in a separately
 * versioned community module. What the runner guarantees:
 * <ul>
 *   <li>two servers starting at once apply each migration once (PostgreSQL: a transaction-scoped advisory lock;
 *       SQLite: the IMMEDIATE transaction holds the write lock);</li>
 *   <li>an applied migration whose SQL was edited since is an error, not silently skipped;</li>
 *   <li>a database migrated by a newer Dense4J (a version this code does not know) is refused, never downgraded.</li>
 * </ul>
 */
public final class Migrations {
    private Migrations() {}

    /** One schema change; {@code sql} holds statements separated by ";\n" for each dialect. */
    record Migration(int version, String description, Map<Database.Dialect, String> sql) {}

    private static final String IDENTITY_SQLITE = "INTEGER PRIMARY KEY AUTOINCREMENT";
    private static final String IDENTITY_PG = "BIGSERIAL PRIMARY KEY";

    private static final String V1 = """
            CREATE TABLE datasets (
              sha256 TEXT PRIMARY KEY,
              name TEXT NOT NULL,
              format TEXT NOT NULL,
              rows_count BIGINT NOT NULL,
              features INTEGER NOT NULL,
              classes INTEGER NOT NULL,
              class_names TEXT NOT NULL,
              location TEXT NOT NULL,
              size_bytes BIGINT NOT NULL,
              created_at BIGINT NOT NULL,
              created_by TEXT NOT NULL);
            CREATE TABLE jobs (
              id %1$s,
              type TEXT NOT NULL,
              state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
              owner TEXT NOT NULL,
              priority INTEGER NOT NULL,
              cpus INTEGER NOT NULL,
              gpus INTEGER NOT NULL,
              dataset_sha256 TEXT,
              spec TEXT NOT NULL,
              submitted_at BIGINT NOT NULL,
              started_at BIGINT,
              finished_at BIGINT,
              server TEXT,
              attempt INTEGER NOT NULL DEFAULT 0,
              lease_expires_at BIGINT,
              cancel_requested INTEGER NOT NULL DEFAULT 0,
              progress TEXT,
              checkpoint TEXT,
              result TEXT,
              error TEXT);
            CREATE INDEX jobs_queue ON jobs (state, priority, id);
            CREATE INDEX jobs_dataset ON jobs (dataset_sha256, state);
            CREATE TABLE trials (
              job_id BIGINT NOT NULL REFERENCES jobs (id),
              trial INTEGER NOT NULL,
              attempt INTEGER NOT NULL,
              state TEXT NOT NULL,
              record TEXT NOT NULL,
              updated_at BIGINT NOT NULL,
              PRIMARY KEY (job_id, trial));
            CREATE TABLE job_events (
              seq %1$s,
              job_id BIGINT NOT NULL REFERENCES jobs (id),
              at BIGINT NOT NULL,
              kind TEXT NOT NULL,
              payload TEXT NOT NULL);
            CREATE INDEX job_events_job ON job_events (job_id, seq)""";

    /**
     * What the service needs to read a data set back exactly as it was checked: where its files come from (an
     * upload or a server directory), each file's SHA-256, the CSV reading options, the test split's rows.
     */
    private static final String V2 = """
            ALTER TABLE datasets ADD COLUMN details TEXT NOT NULL DEFAULT '{}';
            CREATE INDEX jobs_owner ON jobs (owner, state)""";

    /**
     * Federated learning: tasks (their definition, the coordinating server's lease, rounds run, ε spent and the
     * registry version holding the current global model), their enrolled clients with the SHA-256 of each client's
     * token (never the token), and one row per finished round (its summary: counts, ε, bytes, never an update).
     */
    private static final String V3 = """
            CREATE TABLE federated_tasks (
              id %1$s,
              name TEXT NOT NULL,
              state TEXT NOT NULL CHECK (state IN ('running', 'finished', 'cancelled', 'failed')),
              created_by TEXT NOT NULL,
              created_at BIGINT NOT NULL,
              updated_at BIGINT NOT NULL,
              config TEXT NOT NULL,
              model_config TEXT NOT NULL,
              register_as TEXT NOT NULL,
              origin TEXT NOT NULL,
              rounds_run BIGINT NOT NULL DEFAULT 0,
              epsilon DOUBLE PRECISION,
              model_version INTEGER,
              finished_reason TEXT,
              server TEXT,
              lease_expires_at BIGINT);
            CREATE INDEX federated_tasks_state ON federated_tasks (state, id);
            CREATE TABLE federated_clients (
              task_id BIGINT NOT NULL REFERENCES federated_tasks (id),
              client TEXT NOT NULL,
              token_sha256 TEXT NOT NULL UNIQUE,
              PRIMARY KEY (task_id, client));
            CREATE TABLE federated_rounds (
              task_id BIGINT NOT NULL REFERENCES federated_tasks (id),
              round BIGINT NOT NULL,
              status TEXT NOT NULL,
              summary TEXT NOT NULL,
              model_version INTEGER,
              finished_at BIGINT NOT NULL,
              PRIMARY KEY (task_id, round))""";

    /**
     * What job lists show, in columns of their own (computed from the spec and the result when a job is queued and
     * when it finishes), so that a list reads neither; {@code summarized} = 0 marks rows queued before, which the
     * store fills in when it opens.
     */
    private static final String V4 = """
            ALTER TABLE jobs ADD COLUMN name TEXT;
            ALTER TABLE jobs ADD COLUMN register_as TEXT;
            ALTER TABLE jobs ADD COLUMN result_summary TEXT;
            ALTER TABLE jobs ADD COLUMN summarized INTEGER NOT NULL DEFAULT 0""";

    /**
     * The claims of a job its server gave back on a planned shutdown ({@link JobStore#release}): the attempt number
     * counts every claim (it fences the earlier ones), the crash limit only those that ended otherwise.
     */
    private static final String V5 = """
            ALTER TABLE jobs ADD COLUMN releases INTEGER NOT NULL DEFAULT 0""";

    /** Each trial's summary (no config, no per-epoch metrics), so a tune job's view reads no full record. */
    private static final String V6 = """
            ALTER TABLE trials ADD COLUMN summary TEXT""";

    static final List<Migration> ALL = List.of(
            new Migration(1, "datasets, jobs, trials, job events", Map.of(
                    Database.Dialect.SQLITE, V1.formatted(IDENTITY_SQLITE),
                    Database.Dialect.POSTGRESQL, V1.formatted(IDENTITY_PG))),
            new Migration(2, "data set details; jobs by owner", Map.of(
                    Database.Dialect.SQLITE, V2,
                    Database.Dialect.POSTGRESQL, V2)),
            new Migration(3, "federated tasks, clients and rounds", Map.of(
                    Database.Dialect.SQLITE, V3.formatted(IDENTITY_SQLITE),
                    Database.Dialect.POSTGRESQL, V3.formatted(IDENTITY_PG))),
            new Migration(4, "job summaries for lists", Map.of(
                    Database.Dialect.SQLITE, V4,
                    Database.Dialect.POSTGRESQL, V4)),
            new Migration(5, "claims given back on shutdown", Map.of(
                    Database.Dialect.SQLITE, V5,
                    Database.Dialect.POSTGRESQL, V5)),
            new Migration(6, "trial summaries", Map.of(
                    Database.Dialect.SQLITE, V6,
                    Database.Dialect.POSTGRESQL, V6)));

    /** The schema version this code writes. */
    public static int latest() {
        return ALL.get(ALL.size() - 1).version();
    }

    /** Brings the database to {@link #latest()}; returns the versions applied now. */
    public static List<Integer> migrate(Database db) {
        try (Connection c = db.connect()) {
            try (Statement st = c.createStatement()) {
                st.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                        + "description TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)");
            }
            java.util.ArrayList<Integer> applied = new java.util.ArrayList<>();
            c.setAutoCommit(false);
            try {
                if (db.dialect() == Database.Dialect.POSTGRESQL) {
                    try (Statement st = c.createStatement()) {
                        st.execute("SELECT pg_advisory_xact_lock(1145392970)"); // any constant shared by every server
                    }
                }
                Map<Integer, String> done = appliedChecksums(c);
                for (int v : done.keySet()) {
                    if (ALL.stream().noneMatch(m -> m.version() == v)) {
                        throw new StoreException("the state store has schema version " + v + ", newer than this "
                                + "Dense4J knows (" + latest() + "); refusing to use it");
                    }
                }
                for (Migration m : ALL) {
                    String sql = m.sql().get(db.dialect());
                    String sum = sha256(sql);
                    String prior = done.get(m.version());
                    if (prior != null) {
                        if (!prior.equals(sum)) {
                            throw new StoreException("schema migration " + m.version() + " (" + m.description()
                                    + ") was changed after it was applied");
                        }
                        continue;
                    }
                    try (Statement st = c.createStatement()) {
                        for (String stmt : sql.split(";\n")) {
                            st.execute(stmt);
                        }
                    }
                    try (PreparedStatement ps = c.prepareStatement(
                            "INSERT INTO schema_version (version, description, checksum, applied_at) VALUES (?, ?, ?, ?)")) {
                        ps.setInt(1, m.version());
                        ps.setString(2, m.description());
                        ps.setString(3, sum);
                        ps.setLong(4, System.currentTimeMillis());
                        ps.executeUpdate();
                    }
                    applied.add(m.version());
                }
                c.commit();
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            }
            return applied;
        } catch (SQLException e) {
            throw new StoreException("cannot migrate the state store " + db + ": " + e.getMessage(), e);
        }
    }

    private static Map<Integer, String> appliedChecksums(Connection c) throws SQLException {
        Map<Integer, String> m = new TreeMap<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT version, checksum FROM schema_version")) {
            while (rs.next()) {
                m.put(rs.getInt(1), rs.getString(2));
            }
        }
        return m;
    }

    static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
