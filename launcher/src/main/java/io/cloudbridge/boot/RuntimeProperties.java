package io.cloudbridge.boot;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.jar.JarFile;
import java.util.jar.Manifest;

/**
 * The framework properties of a CloudBridge runtime, in one place so that the launcher and the
 * integration tests boot the framework the same way.
 */
public final class RuntimeProperties {
    public static final String HOME = "cloudbridge.home";
    public static final String CONFIG = "cloudbridge.config";
    public static final String STATE = "cloudbridge.state";
    public static final String ROLE = "cloudbridge.role";
    /** The {@code --set} overrides, one a line, so the kernel's bridge applies the same priority. */
    public static final String CLI_OVERRIDES = "cloudbridge.cli.overrides";
    public static final String CONFIGURED_FEATURES = "cloudbridge.features.configured";
    /** The features the command brings besides the configured ones ({@code up}: the client's), comma-separated. */
    public static final String ROLE_FEATURES = "cloudbridge.features.role";

    private RuntimeProperties() {
    }

    /**
     * Packages of the class path that bundles import from the system bundle: the boot layer's own
     * (configuration model, feature catalog, log control, admin protocol), SLF4J (so that one
     * provider serves every bundle), Netty and JNA (see {@link BootLibraries}), and the JDK packages
     * outside {@code java.*} that bundles use.
     */
    public static String systemPackagesExtra() {
        String boot = versionOf(RuntimeProperties.class);
        String slf4j = versionOf(org.slf4j.Logger.class);
        StringBuilder sb = new StringBuilder();
        for (String p : List.of("io.cloudbridge.boot.config", "io.cloudbridge.boot.feature", "io.cloudbridge.boot.log",
                "io.cloudbridge.boot.admin")) {
            sb.append(p).append(";version=").append(boot).append(',');
        }
        for (String p : List.of("org.slf4j", "org.slf4j.spi", "org.slf4j.event", "org.slf4j.helpers")) {
            sb.append(p).append(";version=").append(slf4j).append(',');
        }
        // Also as 1.7.36, as SLF4J 2's own bundle exports them: libraries built against SLF4J 1
        // (HikariCP imports org.slf4j [1.6,2)) use only the API that 2 kept.
        sb.append("org.slf4j;version=1.7.36,org.slf4j.helpers;version=1.7.36,");
        for (String exports : BootLibraries.exports()) {
            sb.append(exports).append(',');
        }
        sb.append("com.sun.management,com.sun.net.httpserver,jdk.net");
        return sb.toString();
    }

    /**
     * The properties every runtime shares.
     *
     * @param stateDir the state folder: framework cache, feature state, admin socket
     * @param deployDir the folder FileInstall watches for vendor bundles
     */
    public static Map<String, String> base(Path stateDir, Path deployDir, long deployPollMillis) {
        Map<String, String> p = new HashMap<>();
        p.put("org.osgi.framework.storage", stateDir.resolve("cache").toString());
        // The configuration and the feature state are the source of truth, so every start begins
        // from a clean framework: no bundle lingers from a run whose features differed.
        p.put("org.osgi.framework.storage.clean", "onFirstInit");
        p.put("org.osgi.framework.system.packages.extra", systemPackagesExtra());
        p.put(STATE, stateDir.toString());
        p.put("felix.fileinstall.dir", deployDir.toString());
        // Its working copies in the state folder, not the system's temporary one: FileInstall tries
        // to make its folder there forever, and a service whose /tmp it may not write (a read-only
        // system, another user's tmpfs) never finished starting.
        p.put("felix.fileinstall.tmpdir", stateDir.resolve("fileinstall").toString());
        // Jars only: configuration reaches ConfigAdmin through the YAML bridge alone.
        p.put("felix.fileinstall.filter", ".*\\.jar");
        p.put("felix.fileinstall.poll", Long.toString(deployPollMillis));
        p.put("felix.fileinstall.noInitialDelay", "true");
        p.put("felix.fileinstall.bundles.new.start", "true");
        p.put("felix.fileinstall.enableConfigSave", "false");
        p.put("felix.fileinstall.log.level", "2");
        return p;
    }

    /** The Bundle-Version in the manifest of the jar a class came from; "0.0.0" when unknown. */
    static String versionOf(Class<?> type) {
        try {
            Path jar = Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (Files.isRegularFile(jar)) {
                try (JarFile file = new JarFile(jar.toFile())) {
                    Manifest m = file.getManifest();
                    String v = m == null ? null : m.getMainAttributes().getValue("Bundle-Version");
                    if (v != null) {
                        return v.trim();
                    }
                }
            } else {
                Path manifest = jar.resolve("META-INF/MANIFEST.MF");
                if (Files.exists(manifest)) {
                    try (var in = Files.newInputStream(manifest)) {
                        String v = new Manifest(in).getMainAttributes().getValue("Bundle-Version");
                        if (v != null) {
                            return v.trim();
                        }
                    }
                }
            }
        } catch (IOException | URISyntaxException | SecurityException | NullPointerException e) {
            // fall through to the neutral version
        }
        return "0.0.0";
    }
}
