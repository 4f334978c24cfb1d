package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Admin commands that reach a daemon while the launcher is still starting its bundles. Found by
 * hand: {@code feature:uninstall transport-websocket} as soon as the admin socket of a starting
 * relay answered uninstalled a bundle the launcher was about to start, and the whole runtime ended
 * ("Cannot start an uninstalled bundle").
 */
class StartUpTest {
    @TempDir
    Path work;

    @Test
    void aFeatureChangeDuringTheStartWaitsForItAndTheDaemonLives() throws Exception {
        Daemon relay = relay();
        Process p = launchUntilTheSocketAnswers(relay);
        try {
            boolean startedBeforeTheCommand = relay.logText().contains("runtime started");
            Daemon.Result status = relay.exec("cb:status");
            Daemon.Result uninstall = relay.exec("feature:uninstall", "transport-websocket");
            Await.until(Duration.ofSeconds(30), "the start to end; log:\n" + relay.logText(),
                    () -> !p.isAlive() || relay.logText().contains("runtime started"));
            assertTrue(p.isAlive(), "the daemon died; log:\n" + relay.logText());
            assertFalse(relay.logText().contains("the runtime failed to start"), relay.logText());
            assertEquals(0, uninstall.exit(), uninstall.out() + uninstall.err());
            assertTrue(uninstall.out().contains("feature transport-websocket uninstalled"), uninstall.out());
            if (!startedBeforeTheCommand) {
                // Asked before the start ended, status says so instead of naming bundles that
                // have simply not been started yet.
                assertTrue(status.out().contains("health:          starting"), status.out());
                assertFalse(status.out().contains("problem:"), status.out());
            }
            Daemon.Result after = relay.exec("cb:status");
            assertTrue(after.out().contains("health:          ok"), after.out());
            // A relay without OIDC is whole: the sign-in components are off by choice.
            assertTrue(after.out().contains("not configured:  sections identity, oidc"), after.out());
            Daemon.Result login = relay.exec("cb:login");
            assertEquals(1, login.exit());
            assertTrue(login.err().contains("OpenID Connect sign-in is not configured"), login.err());
            String features = relay.exec("feature:list").out();
            assertTrue(features.matches("(?s).*transport-websocket +available.*"), features);
            // The catalog describes what is built, not what was once planned.
            assertFalse(features.contains("to come"), features);
            assertTrue(features.matches("(?s).*\\bice +available +NAT traversal \\(ICE hole punching.*"), features);
            System.out.println("feature change " + (startedBeforeTheCommand ? "after" : "during") + " the start");
        } finally {
            relay.close();
            p.destroyForcibly();
        }
    }

    @Test
    void aBundleUninstalledByHandDuringTheStartLeavesTheRestRunning() throws Exception {
        Daemon relay = relay();
        Process p = launchUntilTheSocketAnswers(relay);
        try {
            // Gogo's own command, which no feature manager sees: the launcher may not have
            // started this bundle yet.
            Daemon.Result uninstall = relay.exec("felix:uninstall", "io.cloudbridge.transport.quic");
            Await.until(Duration.ofSeconds(30), "the start to end; log:\n" + relay.logText(),
                    () -> !p.isAlive() || relay.logText().contains("runtime started"));
            assertTrue(p.isAlive(), "the daemon died; log:\n" + relay.logText());
            assertEquals(0, uninstall.exit(), uninstall.out() + uninstall.err());
            Daemon.Result after = relay.exec("cb:status");
            assertTrue(after.out().contains("health:          degraded"), after.out());
            assertTrue(after.out().contains("io.cloudbridge.transport.quic is not installed"), after.out());
            // The feature manager puts it back.
            assertEquals(0, relay.exec("feature:uninstall", "transport-quic").exit());
            assertEquals(0, relay.exec("feature:install", "transport-quic").exit());
            assertTrue(relay.exec("cb:status").out().contains("health:          ok"));
        } finally {
            relay.close();
            p.destroyForcibly();
        }
    }

    /**
     * A transport bundle carries a relay-side route behind an optional import of the relay's route
     * contract. Installing the relay feature where the transport ran without it (a node) used to
     * leave that import unwired, and the route's class failed to load as soon as its component was
     * satisfied (NoClassDefFoundError in the framework's event dispatch, found by the chaos test).
     */
    @Test
    void aFeatureThatExportsWhatAnotherBundleOptionallyImportsRewiresIt() throws Exception {
        Daemon d = new Daemon(work);
        RuntimeTestSupport.writeOwnerOnly(d.config, String.join("\n", "kernel:", "  features: [core, shell, transport-websocket]",
                "relay:", "  listenAddress: 127.0.0.1", "  controlPort: " + RuntimeTestSupport.freeTcpPort(), "  jwksPort: 0",
                "listeners:", "  address: 127.0.0.1", "  tlsPort: " + RuntimeTestSupport.freeTcpPort(),
                "  quicPort: " + RuntimeTestSupport.freeUdpPort(), "  stunPort: -1", ""));
        try (Daemon daemon = d.start()) {
            // Without the relay the route is another role's half of the plugin: not a problem.
            String before = daemon.exec("cb:status").out();
            assertTrue(before.contains("health:          ok") && before.contains("dormant:         WebSocketRoute (needs io.cloudbridge.relay.spi)"),
                    before);
            Daemon.Result install = daemon.exec("feature:install", "relay");
            assertEquals(0, install.exit(), install.out() + install.err());
            Await.until(Duration.ofSeconds(10), "the WebSocket route on the relay",
                    () -> daemon.logText().contains("relay route /cloudbridge/v1/ws"));
            assertEquals(0, daemon.exec("feature:uninstall", "relay").exit());
            assertFalse(daemon.logText().contains("\"level\":\"ERROR\""), daemon.logText());
            assertTrue(daemon.exec("cb:status").out().contains("health:          ok"), daemon.exec("cb:status").out());
        }
    }

    /** Starts it, and returns as soon as its admin socket answers: the launcher is still starting bundles then. */
    private static Process launchUntilTheSocketAnswers(Daemon relay) throws Exception {
        Process p = relay.begin();
        Await.until(Duration.ofSeconds(30), "the admin socket",
                () -> !p.isAlive() || Files.exists(relay.socket()) && relay.exec("cb:status").exit() == 0);
        return p;
    }

    private Daemon relay() throws Exception {
        Daemon relay = new Daemon(work);
        relay.command = "relay";
        RuntimeTestSupport.writeOwnerOnly(relay.config, String.join("\n",
                "relay:", "  listenAddress: 127.0.0.1", "  controlPort: " + RuntimeTestSupport.freeTcpPort(), "  jwksPort: 0",
                "listeners:", "  address: 127.0.0.1", "  tlsPort: " + RuntimeTestSupport.freeTcpPort(),
                "  quicPort: " + RuntimeTestSupport.freeUdpPort(), "  stunPort: -1", ""));
        return relay;
    }
}
