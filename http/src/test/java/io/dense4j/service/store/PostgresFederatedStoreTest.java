package io.dense4j.service.store;

import org.junit.jupiter.api.extension.RegisterExtension;

/** The federated tables on a private PostgreSQL cluster started by the test (skipped, saying why, without one). */
class PostgresFederatedStoreTest extends FederatedStoreContract {
    @RegisterExtension
    static final PostgresDatabases POSTGRES = new PostgresDatabases();

    @Override
    Database newDatabase() {
        return POSTGRES.newDatabase();
    }
}
