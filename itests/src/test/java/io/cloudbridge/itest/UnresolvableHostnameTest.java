package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.testing.Requirements;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A relay and a node on a machine whose own name does not resolve, as cloud images and containers
 * often are: both used to stop at {@code InetAddress.getLocalHost()} (the relay naming its first
 * certificate, a node without {@code control.hostname} its registration). Each daemon runs in a
 * UTS namespace of its own with a name no resolver knows, so it needs root.
 */
class UnresolvableHostnameTest {
    @TempDir
    Path work;

    @Test
    void aRelayAndANodeStartAndRegisterUnderAHostnameThatDoesNotResolve() throws Exception {
        Requirements.requireRoot("a UTS namespace with a hostname that does not resolve");
        Requirements.requireTool("unshare", "apt-get install util-linux");
        String name = "cb-unresolvable-" + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 8);
        assertFalse(resolves(name), name + " resolves here");
        List<String> underThatName = List.of("unshare", "--uts", "sh", "-c", "hostname " + name + " && exec \"$0\" \"$@\"");

        int port = RuntimeTestSupport.freeTcpPort();
        Daemon relay = new Daemon(Files.createDirectories(work.resolve("relay")));
        relay.prefix = underThatName;
        RuntimeTestSupport.writeOwnerOnly(relay.config, String.join("\n",
                "kernel:", "  features: [core, shell, relay]",
                "relay:", "  listenAddress: 127.0.0.1", "  controlPort: " + port, "  jwksPort: 0", ""));
        try (Daemon r = relay.start()) {
            Await.until(Duration.ofSeconds(20), "the relay listening; log:\n" + r.logText(),
                    () -> r.logText().contains("relay control service listening"));
            String key = r.exec("relay:key", "create", "--tenant", "acme").out().trim();
            Path dir = Files.createDirectories(work.resolve("node"));
            Path keyFile = dir.resolve("preauth.key");
            RuntimeTestSupport.writeOwnerOnly(keyFile, key + "\n");
            Daemon node = new Daemon(dir);
            node.prefix = underThatName;
            // No control.hostname: the node names itself after the machine.
            String yaml = RuntimeTestSupport.nodeYaml(dir, "uts", port, "  preAuthKeyFile: " + keyFile).lines()
                    .filter(l -> !l.startsWith("  hostname:")).collect(Collectors.joining("\n", "", "\n"));
            RuntimeTestSupport.writeOwnerOnly(node.config, yaml);
            try (Daemon n = node.start()) {
                Await.until(Duration.ofSeconds(20), "the node registered; log:\n" + n.logText(),
                        () -> n.whoami("status").equals("registered"));
                String nodes = r.exec("relay:nodes", "acme").out();
                assertTrue(nodes.contains(name), nodes);
            }
        }
    }

    private static boolean resolves(String name) {
        try {
            InetAddress.getByName(name);
            return true;
        } catch (UnknownHostException e) {
            return false;
        }
    }
}
