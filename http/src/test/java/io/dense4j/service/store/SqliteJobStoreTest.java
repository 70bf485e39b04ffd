package io.dense4j.service.store;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SqliteJobStoreTest extends JobStoreContract {
    @TempDir
    Path dir;
    private int n;

    @Override
    Database newDatabase() {
        return Database.sqlite(dir.resolve("state-" + (++n) + ".db"));
    }

    @Override
    String childArgument(Database db) {
        return db.toString().substring("jdbc:sqlite:".length());
    }

    @Test
    void connectionsUseWalAndABusyTimeout() throws Exception {
        Database db = newDatabase();
        store(db);
        try (Connection c = db.connect(); Statement st = c.createStatement()) {
            try (ResultSet rs = st.executeQuery("PRAGMA journal_mode")) {
                rs.next();
                assertEquals("wal", rs.getString(1));
            }
            try (ResultSet rs = st.executeQuery("PRAGMA busy_timeout")) {
                rs.next();
                assertEquals(10_000, rs.getInt(1));
            }
            try (ResultSet rs = st.executeQuery("PRAGMA foreign_keys")) {
                rs.next();
                assertEquals(1, rs.getInt(1));
            }
        }
    }
}
