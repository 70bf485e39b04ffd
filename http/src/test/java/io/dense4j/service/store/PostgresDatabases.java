package io.dense4j.service.store;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One private PostgreSQL cluster for a test class ({@code @RegisterExtension static PostgresDatabases pg = new
 * PostgresDatabases();}): started before the class's tests, stopped after them. {@link #newDatabase()} skips the
 * calling test, saying why, where no cluster could be started.
 */
public final class PostgresDatabases implements BeforeAllCallback, AfterAllCallback {
    private PostgresCluster cluster;

    @Override
    public void beforeAll(ExtensionContext context) {
        cluster = PostgresCluster.start();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        if (cluster != null) {
            cluster.close();
            cluster = null;
        }
    }

    /** A fresh, empty database on the class's cluster; skips the test when PostgreSQL is unavailable. */
    public Database newDatabase() {
        Assumptions.assumeTrue(cluster != null, () -> "PostgreSQL unavailable: " + PostgresCluster.skipReason);
        return cluster.newDatabase();
    }
}
