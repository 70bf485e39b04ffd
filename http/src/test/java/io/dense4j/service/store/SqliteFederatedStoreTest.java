package io.dense4j.service.store;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

class SqliteFederatedStoreTest extends FederatedStoreContract {
    @TempDir
    Path dir;
    private int n;

    @Override
    Database newDatabase() {
        return Database.sqlite(dir.resolve("state-" + (++n) + ".db"));
    }
}
