package io.dense4j.service.store;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Properties;
import org.sqlite.SQLiteConfig;

/**
 * Where the state store lives: an embedded SQLite file (the default) or a PostgreSQL database that several
 * servers share. Hands out configured JDBC connections, one per unit of work (the control plane is low-rate, so no
 * pool is needed; SQLite opens in microseconds, PostgreSQL in about a millisecond on one machine).
 *
 * <p>SQLite connections use WAL (readers never block the writer), a busy timeout (a writer waits for another
 * instead of failing), synchronous=FULL (a committed state survives a power cut: "succeeded" must never be
 * rolled back), foreign keys on, and IMMEDIATE transactions (a transaction takes the write lock when it begins,
 * so a read-then-write never deadlocks on the lock upgrade).
 */
public final class Database {
    public enum Dialect { SQLITE, POSTGRESQL }

    private final Dialect dialect;
    private final String url;
    private final Properties properties;

    private Database(Dialect dialect, String url, Properties properties) {
        this.dialect = dialect;
        this.url = url;
        this.properties = properties;
    }

    /** An embedded SQLite database in {@code file} (created if absent). */
    public static Database sqlite(Path file) {
        SQLiteConfig c = new SQLiteConfig();
        c.setJournalMode(SQLiteConfig.JournalMode.WAL);
        c.setBusyTimeout(10_000);
        c.setSynchronous(SQLiteConfig.SynchronousMode.FULL);
        c.enforceForeignKeys(true);
        c.setTransactionMode(SQLiteConfig.TransactionMode.IMMEDIATE);
        return new Database(Dialect.SQLITE, "jdbc:sqlite:" + file.toAbsolutePath(), c.toProperties());
    }

    /** A PostgreSQL database: {@code jdbc:postgresql://host:port/db}, with user and password (may be null). */
    public static Database postgres(String jdbcUrl, String user, String password) {
        if (!jdbcUrl.startsWith("jdbc:postgresql:")) {
            throw new IllegalArgumentException("a PostgreSQL URL starts with jdbc:postgresql:, got " + jdbcUrl);
        }
        Properties p = new Properties();
        if (user != null) {
            p.setProperty("user", user);
        }
        if (password != null) {
            p.setProperty("password", password);
        }
        p.setProperty("connectTimeout", "10");
        p.setProperty("ApplicationName", "dense4j");
        return new Database(Dialect.POSTGRESQL, jdbcUrl, p);
    }

    /**
     * The {@code --state} option: a {@code jdbc:postgresql:} URL (credentials from the URL or the PGUSER / PGPASSWORD
     * environment) or the path of a SQLite file.
     */
    public static Database open(String state) {
        if (state.startsWith("jdbc:postgresql:")) {
            return postgres(state, System.getenv("PGUSER"), System.getenv("PGPASSWORD"));
        }
        if (state.startsWith("jdbc:")) {
            throw new IllegalArgumentException("the state store is a SQLite file path or a jdbc:postgresql: URL, got "
                    + state.substring(0, Math.min(state.length(), 40)));
        }
        return sqlite(Path.of(state));
    }

    public Dialect dialect() {
        return dialect;
    }

    /** A new connection in auto-commit mode; the caller closes it. */
    public Connection connect() throws SQLException {
        return DriverManager.getConnection(url, properties);
    }

    /** One unit of work on a connection, run inside a transaction by {@link #transaction}. */
    @FunctionalInterface
    public interface Work<T> {
        T run(Connection c) throws SQLException;
    }

    /**
     * Runs {@code work} in one transaction: committed when it returns, rolled back when it throws. SQLite's "database
     * is locked" beyond the busy timeout and PostgreSQL's serialization failures and deadlocks are retried (up to 5
     * attempts); other SQL errors become a {@link StoreException}.
     */
    public <T> T transaction(Work<T> work) {
        for (int attempt = 1; ; attempt++) {
            try (Connection c = connect()) {
                c.setAutoCommit(false);
                try {
                    T result = work.run(c);
                    c.commit();
                    return result;
                } catch (SQLException | RuntimeException e) {
                    c.rollback();
                    throw e;
                }
            } catch (SQLException e) {
                boolean busy = dialect == Dialect.SQLITE && (e.getErrorCode() == 5 || e.getErrorCode() == 6);
                boolean retryable = busy || "40001".equals(e.getSQLState()) || "40P01".equals(e.getSQLState());
                if (retryable && attempt < 5) {
                    continue;
                }
                throw new StoreException("state store error: " + e.getMessage(), e);
            }
        }
    }

    @Override
    public String toString() {
        // never the credentials
        return dialect == Dialect.SQLITE ? url : url.replaceAll("password=[^&]*", "password=***");
    }
}
