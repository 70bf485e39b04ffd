package io.dense4j.service.store;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Federated tasks in the state store (schema migration 3): each task's definition, the server coordinating it and
 * that server's lease, the rounds run, ε spent, the registry version of the current global model, its enrolled
 * clients with the SHA-256 of each client's token (the token itself is shown once at creation and never stored),
 * and one row per finished round (its summary: counts, ε, seconds, bytes; never an update or a weight).
 *
 * <h2>Who coordinates a task</h2>
 * A coordinator's round state (keys, masked sums, shares) lives in one process. A running task is coordinated by
 * the server holding its claim ({@code server}), renewed by {@link #claim} well within the lease; a task whose
 * coordinator stopped gracefully ({@link #release}) or died (its lease expired) is taken by the next server calling
 * {@link #claim}, which resumes it. Every write about a task's progress names the claiming server and changes
 * nothing once another server holds it. A cancel may come from any server ({@link #cancel}); the coordinating one
 * sees it at its next claim.
 */
public final class FederatedStore {
    private static final String TASK_COLUMNS = "id, name, state, created_by, created_at, updated_at, config, "
            + "model_config, register_as, origin, rounds_run, epsilon, model_version, finished_reason, server, "
            + "lease_expires_at";

    /** One task as stored. JSON columns ({@code config}, {@code modelConfig}, {@code origin}) are text. */
    public record Task(long id, String name, String state, String createdBy, long createdAt, long updatedAt,
                       String config, String modelConfig, String registerAs, String origin, long roundsRun,
                       Double epsilon, Integer modelVersion, String finishedReason, String server, Long leaseExpiresAt) {
        public boolean running() {
            return "running".equals(state);
        }
    }

    /**
     * A task to insert, claimed at once by {@code server}.
     *
     * @param registerAs        the registry model of its global models; null: {@code federated-<id>}
     * @param clientTokenHashes client id to the hex SHA-256 of its token
     */
    public record NewTask(String name, String createdBy, String config, String modelConfig, String registerAs,
                          String origin, Map<String, String> clientTokenHashes, String server, Duration lease) {}

    /** A finished round: its summary (JSON) and the registry version of the model after it (null when aborted). */
    public record Round(long round, String status, String summary, Integer modelVersion, long finishedAt) {}

    /** The task and client a token hash belongs to. */
    public record ClientOf(long taskId, String client) {}

    private final Database db;
    private final Clock clock;

    /** Opens the store on {@code db}, migrating its schema. */
    public FederatedStore(Database db, Clock clock) {
        this.db = db;
        this.clock = clock;
        Migrations.migrate(db);
    }

    public Task insert(NewTask t) {
        return db.transaction(c -> {
            long now = clock.millis();
            long id;
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO federated_tasks (name, state, created_by, "
                    + "created_at, updated_at, config, model_config, register_as, origin, server, lease_expires_at) "
                    + "VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id")) {
                ps.setString(1, t.name());
                ps.setString(2, t.createdBy());
                ps.setLong(3, now);
                ps.setLong(4, now);
                ps.setString(5, t.config());
                ps.setString(6, t.modelConfig());
                ps.setString(7, t.registerAs() == null ? "" : t.registerAs());
                ps.setString(8, t.origin());
                ps.setString(9, t.server());
                ps.setLong(10, now + t.lease().toMillis());
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    id = rs.getLong(1);
                }
            }
            if (t.registerAs() == null) {
                try (PreparedStatement ps = c.prepareStatement("UPDATE federated_tasks SET register_as = ? WHERE id = ?")) {
                    ps.setString(1, "federated-" + id);
                    ps.setLong(2, id);
                    ps.executeUpdate();
                }
            }
            try (PreparedStatement ps = c.prepareStatement(
                    "INSERT INTO federated_clients (task_id, client, token_sha256) VALUES (?, ?, ?)")) {
                for (Map.Entry<String, String> e : t.clientTokenHashes().entrySet()) {
                    ps.setLong(1, id);
                    ps.setString(2, e.getKey());
                    ps.setString(3, e.getValue());
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            return taskIn(c, id).orElseThrow();
        });
    }

    public Optional<Task> task(long id) {
        return db.transaction(c -> taskIn(c, id));
    }

    /** Tasks, newest first, optionally in one state. */
    public List<Task> tasks(String state, int limit) {
        return db.transaction(c -> {
            List<Task> out = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT " + TASK_COLUMNS + " FROM federated_tasks"
                    + (state == null ? "" : " WHERE state = ?") + " ORDER BY id DESC LIMIT ?")) {
                int i = 1;
                if (state != null) {
                    ps.setString(i++, state);
                }
                ps.setInt(i, limit);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        out.add(task(rs));
                    }
                }
            }
            return out;
        });
    }

    /** The enrolled clients of a task, in name order. */
    public List<String> clients(long taskId) {
        return List.copyOf(tokenHashes(taskId).values());
    }

    /** Token hash to client id, for every enrolled client of a task (in client order). */
    public Map<String, String> tokenHashes(long taskId) {
        return db.transaction(c -> {
            Map<String, String> out = new LinkedHashMap<>();
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT token_sha256, client FROM federated_clients WHERE task_id = ? ORDER BY client")) {
                ps.setLong(1, taskId);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        out.put(rs.getString(1), rs.getString(2));
                    }
                }
            }
            return out;
        });
    }

    /** Whose token has this SHA-256 (hex), if anyone's. */
    public Optional<ClientOf> clientByTokenHash(String sha256Hex) {
        return db.transaction(c -> {
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT task_id, client FROM federated_clients WHERE token_sha256 = ?")) {
                ps.setString(1, sha256Hex);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? Optional.of(new ClientOf(rs.getLong(1), rs.getString(2))) : Optional.empty();
                }
            }
        });
    }

    /** The finished rounds of a task, in order. */
    public List<Round> rounds(long taskId) {
        return db.transaction(c -> {
            List<Round> out = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT round, status, summary, model_version, finished_at "
                    + "FROM federated_rounds WHERE task_id = ? ORDER BY round")) {
                ps.setLong(1, taskId);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        int v = rs.getInt(4);
                        out.add(new Round(rs.getLong(1), rs.getString(2), rs.getString(3), rs.wasNull() ? null : v,
                                rs.getLong(5)));
                    }
                }
            }
            return out;
        });
    }

    /**
     * Records finished rounds and the task's progress after them, if {@code server} still coordinates the task
     * (false otherwise: nothing was written).
     *
     * @param modelVersion the registry version of the global model now (null: unchanged)
     */
    public boolean recordRounds(long taskId, String server, List<Round> rounds, long roundsRun, Double epsilon,
                                Integer modelVersion) {
        return db.transaction(c -> {
            long now = clock.millis();
            try (PreparedStatement ps = c.prepareStatement("UPDATE federated_tasks SET rounds_run = ?, epsilon = ?, "
                    + "model_version = COALESCE(?, model_version), updated_at = ? WHERE id = ? AND server = ? "
                    + "AND state = 'running'")) {
                ps.setLong(1, roundsRun);
                setDouble(ps, 2, epsilon);
                if (modelVersion == null) {
                    ps.setNull(3, Types.INTEGER);
                } else {
                    ps.setInt(3, modelVersion);
                }
                ps.setLong(4, now);
                ps.setLong(5, taskId);
                ps.setString(6, server);
                if (ps.executeUpdate() == 0) {
                    return false;
                }
            }
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO federated_rounds (task_id, round, status, "
                    + "summary, model_version, finished_at) VALUES (?, ?, ?, ?, ?, ?)")) {
                for (Round r : rounds) {
                    ps.setLong(1, taskId);
                    ps.setLong(2, r.round());
                    ps.setString(3, r.status());
                    ps.setString(4, r.summary());
                    if (r.modelVersion() == null) {
                        ps.setNull(5, Types.INTEGER);
                    } else {
                        ps.setInt(5, r.modelVersion());
                    }
                    ps.setLong(6, r.finishedAt());
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            return true;
        });
    }

    /**
     * Ends a running task coordinated by {@code server}: {@code finished} (all rounds ran, budget spent) or
     * {@code failed}; the claim is dropped. False when the task is not running or another server holds it.
     */
    public boolean finish(long taskId, String server, String state, String reason) {
        if (!state.equals("finished") && !state.equals("failed")) {
            throw new IllegalArgumentException("a task finishes as finished or failed, not " + state);
        }
        return db.transaction(c -> {
            try (PreparedStatement ps = c.prepareStatement("UPDATE federated_tasks SET state = ?, finished_reason = ?, "
                    + "server = NULL, lease_expires_at = NULL, updated_at = ? WHERE id = ? AND server = ? "
                    + "AND state = 'running'")) {
                ps.setString(1, state);
                ps.setString(2, reason);
                ps.setLong(3, clock.millis());
                ps.setLong(4, taskId);
                ps.setString(5, server);
                return ps.executeUpdate() == 1;
            }
        });
    }

    /**
     * Cancels a running task, whichever server coordinates it (that server stops it at its next {@link #claim}).
     * False when the task is not running.
     */
    public boolean cancel(long taskId, String reason) {
        return db.transaction(c -> {
            try (PreparedStatement ps = c.prepareStatement("UPDATE federated_tasks SET state = 'cancelled', "
                    + "finished_reason = ?, server = NULL, lease_expires_at = NULL, updated_at = ? WHERE id = ? "
                    + "AND state = 'running'")) {
                ps.setString(1, reason);
                ps.setLong(2, clock.millis());
                ps.setLong(3, taskId);
                return ps.executeUpdate() == 1;
            }
        });
    }

    /**
     * Renews {@code server}'s claims and takes every running task that no server holds or whose claim expired;
     * returns the ids of the running tasks {@code server} now holds.
     */
    public List<Long> claim(String server, Duration lease) {
        return db.transaction(c -> {
            long now = clock.millis();
            try (PreparedStatement ps = c.prepareStatement("UPDATE federated_tasks SET server = ?, lease_expires_at = ? "
                    + "WHERE state = 'running' AND (server IS NULL OR server = ? OR lease_expires_at < ?)")) {
                ps.setString(1, server);
                ps.setLong(2, now + lease.toMillis());
                ps.setString(3, server);
                ps.setLong(4, now);
                ps.executeUpdate();
            }
            List<Long> held = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT id FROM federated_tasks WHERE state = 'running' AND server = ? ORDER BY id")) {
                ps.setString(1, server);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        held.add(rs.getLong(1));
                    }
                }
            }
            return held;
        });
    }

    /** Gives up {@code server}'s claims (a graceful stop): the next server to {@link #claim} resumes the tasks at once. */
    public void release(String server) {
        db.transaction(c -> {
            try (PreparedStatement ps = c.prepareStatement("UPDATE federated_tasks SET server = NULL, "
                    + "lease_expires_at = NULL WHERE server = ?")) {
                ps.setString(1, server);
                return ps.executeUpdate();
            }
        });
    }

    private Optional<Task> taskIn(Connection c, long id) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT " + TASK_COLUMNS + " FROM federated_tasks WHERE id = ?")) {
            ps.setLong(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(task(rs)) : Optional.empty();
            }
        }
    }

    private static Task task(ResultSet rs) throws SQLException {
        double eps = rs.getDouble("epsilon");
        Double epsilon = rs.wasNull() ? null : eps;
        int v = rs.getInt("model_version");
        Integer version = rs.wasNull() ? null : v;
        long lease = rs.getLong("lease_expires_at");
        Long leaseExpires = rs.wasNull() ? null : lease;
        return new Task(rs.getLong("id"), rs.getString("name"), rs.getString("state"), rs.getString("created_by"),
                rs.getLong("created_at"), rs.getLong("updated_at"), rs.getString("config"), rs.getString("model_config"),
                rs.getString("register_as"), rs.getString("origin"), rs.getLong("rounds_run"), epsilon, version,
                rs.getString("finished_reason"), rs.getString("server"), leaseExpires);
    }

    private static void setDouble(PreparedStatement ps, int i, Double v) throws SQLException {
        if (v == null || v.isNaN() || v.isInfinite()) {
            ps.setNull(i, Types.DOUBLE);
        } else {
            ps.setDouble(i, v);
        }
    }
}
