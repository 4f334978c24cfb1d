package io.cloudbridge.boot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.testing.NotifySocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/** sd_notify's messages, received on a real Unix datagram socket as systemd would receive them. */
class SystemdNotifierTest {
    @TempDir
    Path dir;

    @Test
    void addressesArePathsEndedByNulOrAbstractNamesStartedByOne() {
        byte[] path = SystemdNotifier.socketAddress("/run/x");
        assertEquals(2 + 6 + 1, path.length);
        assertEquals(0, path[path.length - 1]);
        byte[] abstractName = SystemdNotifier.socketAddress("@sd");
        assertArrayEquals(new byte[] {0, 's', 'd'}, java.util.Arrays.copyOfRange(abstractName, 2, abstractName.length));
        assertNull(SystemdNotifier.socketAddress("relative/path"));
        assertNull(SystemdNotifier.socketAddress("/" + "x".repeat(200)), "longer than sun_path");
        assertNull(SystemdNotifier.socketAddress("@"));
    }

    @Test
    void theWatchdogIsOursOnlyWhenItsPidIsOursOrUnsaid() {
        assertEquals(30_000_000, SystemdNotifier.watchdogMicros(Map.of("WATCHDOG_USEC", "30000000"), 42));
        assertEquals(30_000_000, SystemdNotifier.watchdogMicros(Map.of("WATCHDOG_USEC", "30000000", "WATCHDOG_PID", "42"), 42));
        assertEquals(0, SystemdNotifier.watchdogMicros(Map.of("WATCHDOG_USEC", "30000000", "WATCHDOG_PID", "7"), 42));
        assertEquals(0, SystemdNotifier.watchdogMicros(Map.of("WATCHDOG_USEC", "soon"), 42));
        assertEquals(0, SystemdNotifier.watchdogMicros(Map.of(), 42));
    }

    @Test
    void withoutNotifySocketNothingIsSent() {
        try (SystemdNotifier none = SystemdNotifier.fromEnvironment(Map.of())) {
            assertFalse(none.active());
            none.ready("running"); // (nothing to send to: no error either)
        }
    }

    @Test
    @EnabledOnOs(OS.LINUX)
    void readyStatusWatchdogAndStoppingArriveOnAPathSocket() throws Exception {
        Path socket = dir.resolve("notify");
        try (NotifySocket systemd = NotifySocket.bind(socket.toString());
                SystemdNotifier notifier = SystemdNotifier.fromEnvironment(Map.of("NOTIFY_SOCKET", socket.toString(),
                        "WATCHDOG_USEC", "100000"))) {
            assertTrue(notifier.active());
            notifier.status("starting: 37 bundles");
            assertEquals("STATUS=starting: 37 bundles", systemd.receive(Duration.ofSeconds(5)));
            notifier.ready("running: daemon,\n37 bundles");
            assertEquals("READY=1\nSTATUS=running: daemon, 37 bundles", systemd.receive(Duration.ofSeconds(5)), "one line of status");
            java.util.concurrent.atomic.AtomicBoolean alive = new java.util.concurrent.atomic.AtomicBoolean(true);
            notifier.startWatchdog(alive::get);
            List<String> pings = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                pings.add(systemd.receive(Duration.ofSeconds(5)));
            }
            assertEquals(List.of("WATCHDOG=1", "WATCHDOG=1", "WATCHDOG=1"), pings, "every 50 ms for a 100 ms watchdog");
            alive.set(false); // a framework that stopped: no more pings, and systemd restarts it
            systemd.drain(Duration.ofMillis(120));
            assertNull(systemd.receive(Duration.ofMillis(300)), "no ping while not alive");
            notifier.stopping("stopping: signalled");
            assertEquals("STOPPING=1\nSTATUS=stopping: signalled", systemd.receive(Duration.ofSeconds(5)));
            // A start that ends after the stop began is not announced, and pings no watchdog.
            notifier.ready("running: too late");
            assertNull(systemd.receive(Duration.ofMillis(200)));
        }
    }

    @Test
    @EnabledOnOs(OS.LINUX)
    void anAbstractSocketIsReachedToo() throws Exception {
        String name = "@cloudbridge-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        try (NotifySocket systemd = NotifySocket.bind(name);
                SystemdNotifier notifier = SystemdNotifier.fromEnvironment(Map.of("NOTIFY_SOCKET", name))) {
            notifier.ready("running");
            assertTrue(systemd.receive(Duration.ofSeconds(5)).startsWith("READY=1\n"));
        }
    }
}
