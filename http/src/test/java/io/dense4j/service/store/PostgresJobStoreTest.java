package io.dense4j.service.store;

import org.junit.jupiter.api.extension.RegisterExtension;

/** The store's contract on a private PostgreSQL cluster started by the test (skipped, saying why, without one). */
class PostgresJobStoreTest extends JobStoreContract {
    @RegisterExtension
    static final PostgresDatabases POSTGRES = new PostgresDatabases();

    @Override
    Database newDatabase() {
        return POSTGRES.newDatabase();
    }

    @Override
    String childArgument(Database db) {
        return db.toString();
    }
}
