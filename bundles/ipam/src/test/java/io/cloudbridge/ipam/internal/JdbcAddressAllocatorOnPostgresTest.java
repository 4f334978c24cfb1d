package io.cloudbridge.ipam.internal;

import io.cloudbridge.testing.TestDatabase;
import java.nio.file.Path;

/** Every allocator test again, on a real PostgreSQL server (the database a fleet of relays shares). */
class JdbcAddressAllocatorOnPostgresTest extends JdbcAddressAllocatorTest {
    @Override
    TestDatabase database(Path folder) {
        return TestDatabase.postgres();
    }
}
