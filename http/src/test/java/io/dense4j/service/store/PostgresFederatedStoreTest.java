package io.dense4j.service.store;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

/** The federated tables on a private PostgreSQL cluster started by the test (skipped, saying why, without one). */
class PostgresFederatedStoreTest extends FederatedStoreContract {
    private static PostgresCluster cluster;

    @BeforeAll
    static void startCluster() {
        cluster = PostgresCluster.start();
    }

    @AfterAll
    static void stopCluster() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @BeforeEach
    void needCluster() {
        Assumptions.assumeTrue(cluster != null, () -> "PostgreSQL unavailable: " + PostgresCluster.skipReason);
    }

    @Override
    Database newDatabase() {
        return cluster.newDatabase();
    }
}
