package io.cloudbridge.control.relay.internal;

import io.cloudbridge.testing.TestDatabase;

/**
 * The control service's end-to-end tests again, on a real PostgreSQL server (the database a fleet
 * of relays shares): the same migrations, registrations, tokens, maps and revocations.
 */
class RelayControlOnPostgresTest extends RelayControlTest {
    @Override
    RelayFixture fixture(RelayConfig config) throws Exception {
        return new RelayFixture(config, TestDatabase.postgres());
    }
}
