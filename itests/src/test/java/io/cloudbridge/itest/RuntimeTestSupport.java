package io.cloudbridge.itest;

import static org.ops4j.pax.exam.CoreOptions.bundle;
import static org.ops4j.pax.exam.CoreOptions.cleanCaches;
import static org.ops4j.pax.exam.CoreOptions.frameworkProperty;
import static org.ops4j.pax.exam.CoreOptions.junitBundles;
import static org.ops4j.pax.exam.CoreOptions.systemPackages;
import static org.ops4j.pax.exam.CoreOptions.systemProperty;

import io.cloudbridge.boot.RuntimeProperties;
import io.cloudbridge.boot.feature.BundleJar;
import io.cloudbridge.boot.feature.FeatureCatalog;
import io.cloudbridge.boot.feature.FeatureState;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.ops4j.pax.exam.Option;

/**
 * Boots the real framework with the distribution's own bundles for the configured features, the
 * way the launcher does: the same framework properties, the same system packages, a real YAML file.
 */
public final class RuntimeTestSupport {
    private RuntimeTestSupport() {
    }

    public static Path distribution() {
        return Path.of(System.getProperty("cloudbridge.dist")).toAbsolutePath();
    }

    /**
     * Options for a runtime with the given features and configuration file contents.
     *
     * @param yaml the configuration, written to a fresh owner-only file
     */
    public static Option[] runtime(List<String> features, String yaml) throws Exception {
        Path dist = distribution();
        Path work = Files.createTempDirectory("cloudbridge-itest");
        Path state = Files.createDirectories(work.resolve("state"));
        Path deploy = Files.createDirectories(work.resolve("deploy"));
        Path config = work.resolve("cloudbridge.yaml");
        writeOwnerOnly(config, yaml);

        FeatureCatalog catalog = FeatureCatalog.load(dist.resolve("features"), dist.resolve("bundles"));
        List<Option> options = new ArrayList<>();
        for (BundleJar jar : catalog.bundlesOf(catalog.effective(features, FeatureState.empty()))) {
            options.add(bundle(jar.path().toUri().toString()).start(!jar.fragment()));
        }
        // One option: the value holds quoted commas (the uses constraints of Netty's exports).
        options.add(systemPackages(RuntimeProperties.systemPackagesExtra()));
        for (Map.Entry<String, String> p : RuntimeProperties.base(state, deploy, 200).entrySet()) {
            if (!p.getKey().startsWith("org.osgi.framework.")) { // storage and packages belong to Pax Exam
                options.add(frameworkProperty(p.getKey()).value(p.getValue()));
            }
        }
        options.add(frameworkProperty(RuntimeProperties.HOME).value(dist.toString()));
        options.add(frameworkProperty(RuntimeProperties.CONFIG).value(config.toString()));
        options.add(frameworkProperty(RuntimeProperties.ROLE).value("itest"));
        options.add(frameworkProperty(RuntimeProperties.CONFIGURED_FEATURES).value(String.join(",", features)));
        options.add(systemProperty("cloudbridge.testClasses").value(System.getProperty("cloudbridge.testClasses", "")));
        options.add(junitBundles());
        options.add(cleanCaches());
        return options.toArray(new Option[0]);
    }

    /** A free TCP port on loopback (for a daemon's listener). */
    public static int freeTcpPort() throws IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    public static int freeUdpPort() throws IOException {
        try (java.net.DatagramSocket s = new java.net.DatagramSocket(0)) {
            return s.getLocalPort();
        }
    }

    /**
     * A node daemon's configuration (features core, shell, client; the overlay in userspace on
     * loopback) signing in at the relay on {@code relayPort}; {@code sections} adds lines (control
     * keys first, then whole sections).
     */
    public static String nodeYaml(Path dir, String name, int relayPort, String... sections) {
        List<String> lines = new ArrayList<>(List.of(
                "kernel:", "  features: [core, shell, client]",
                "wireguard:", "  interfaceName: cbn" + name, "  privateKeyFile: " + dir.resolve("wg.key"),
                "  listenAddress: 127.0.0.1", "  listenPort: 0", "  userspace: true", "  uapiDirectory: \"\"",
                "control:", "  relay: 127.0.0.1:" + relayPort, "  hostname: " + name, "  maxBackoffSeconds: 2"));
        lines.addAll(List.of(sections));
        lines.add("");
        return String.join("\n", lines);
    }

    /**
     * A relay on loopback with the masque feature: its control port, its QUIC port (the MASQUE
     * proxy's), no STUN responder; {@code more} are lines after {@code masque:} (its settings,
     * then any other section).
     */
    public static String masqueRelayYaml(int controlPort, int quicPort, String... more) throws IOException {
        List<String> lines = new ArrayList<>(List.of(
                "kernel:", "  features: [masque]",
                "relay:", "  listenAddress: 127.0.0.1", "  controlPort: " + controlPort, "  jwksPort: 0",
                "listeners:", "  address: 127.0.0.1", "  tlsPort: " + freeTcpPort(), "  quicPort: " + quicPort, "  stunPort: -1",
                "masque:"));
        lines.addAll(List.of(more));
        lines.add("");
        return String.join("\n", lines);
    }

    public static void writeOwnerOnly(Path file, String text) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, text);
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
        // Replace in one step, as editors and configuration tools do.
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    public static final String DEFAULT_YAML = String.join("\n",
            "kernel:",
            "  features: [core, shell]",
            "logging:",
            "  level: info",
            "shell:",
            "  maxSessions: 4",
            "metrics:",
            "  enabled: false",
            "");
}
