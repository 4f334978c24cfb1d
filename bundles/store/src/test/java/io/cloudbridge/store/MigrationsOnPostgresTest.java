package io.cloudbridge.store;

import io.cloudbridge.testing.TestDatabase;
import java.nio.file.Path;

/** The migration tests again, on a real PostgreSQL server, where DDL is transactional. */
class MigrationsOnPostgresTest extends MigrationsTest {
    @Override
    TestDatabase database(Path folder) {
        return TestDatabase.postgres();
    }
}
