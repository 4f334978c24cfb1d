package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.testing.FleetKeyFiles;
import io.cloudbridge.testing.PostgresServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The control plane's end-to-end tests again with the relay's database on a real PostgreSQL server
 * (the database a fleet of relays shares), its token-signing keys sealed with a fleet key: nodes
 * register, renew and are removed, and a relay killed mid-registration loses and duplicates no
 * address. The driver, the pool and their imports resolve in the real runtime.
 */
class ControlPlaneOnPostgresTest extends ControlPlaneTest {
    private PostgresServer.Database database;

    @BeforeEach
    void newDatabase() {
        database = PostgresServer.shared().newDatabase();
    }

    @Override
    String databaseSection(Path relayFolder) throws Exception {
        return databaseSection(relayFolder, true);
    }

    private String databaseSection(Path relayFolder, boolean withFleetKey) throws Exception {
        Path password = relayFolder.resolve("database.password");
        RuntimeTestSupport.writeOwnerOnly(password, database.password() + "\n");
        Path fleetKey = relayFolder.resolve("fleet.key");
        if (withFleetKey && !Files.exists(fleetKey)) { // (a restarted relay keeps its key)
            FleetKeyFiles.write(fleetKey, 32);
        }
        return String.join("\n", "database:", "  url: " + database.url(), "  user: " + database.user(),
                "  passwordFile: " + password, withFleetKey ? "  fleetKeyFile: " + fleetKey : "", "");
    }

    @Test
    void aSharedServerWithoutAFleetKeyIsRefusedWithTheReason() throws Exception {
        Path folder = Files.createDirectories(work.resolve("keyless"));
        Daemon relay = new Daemon(folder);
        RuntimeTestSupport.writeOwnerOnly(relay.config, String.join("\n", "kernel:", "  features: [core, shell, relay]",
                "relay:", "  listenAddress: 127.0.0.1", "  controlPort: 0", "  jwksPort: 0", databaseSection(folder, false)));
        try (Daemon running = relay.start()) {
            Await.until(Duration.ofSeconds(20), "the database refused",
                    () -> running.logText().contains("needs database.fleetKeyFile"));
            assertTrue(!running.logText().contains("relay control service listening"), "no control service without its database");
        }
    }
}
