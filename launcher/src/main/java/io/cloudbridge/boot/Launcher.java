package io.cloudbridge.boot;

import io.cloudbridge.boot.admin.AdminClient;
import io.cloudbridge.boot.admin.InteractiveShell;
import io.cloudbridge.boot.config.ConfigException;
import io.cloudbridge.boot.config.ConfigLoader;
import io.cloudbridge.boot.config.ConfigSnapshot;
import io.cloudbridge.boot.config.StartupRefusal;
import io.cloudbridge.boot.feature.BundleJar;
import io.cloudbridge.boot.feature.FeatureCatalog;
import io.cloudbridge.boot.feature.FeatureException;
import io.cloudbridge.boot.feature.FeatureState;
import io.cloudbridge.boot.feature.StartFailures;
import io.cloudbridge.boot.feature.StartProgress;
import io.cloudbridge.boot.log.LogControl;
import io.cloudbridge.boot.log.LogLevel;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.felix.framework.FrameworkFactory;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.launch.Framework;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code bin/cloudbridge}: starts the microkernel ({@code run}) or talks to a running one
 * ({@code exec}, {@code shell}).
 */
public final class Launcher {
    static final int EXIT_USAGE = 2;
    static final int EXIT_CONFIG = 78; // EX_CONFIG
    static final int EXIT_FAILED = 70; // EX_SOFTWARE
    private static final long STOP_TIMEOUT_MILLIS = 5000;

    private Launcher() {
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String[] args) {
        BootOptions options;
        try {
            options = BootOptions.parse(args, home());
        } catch (IllegalArgumentException e) {
            System.err.println("cloudbridge: " + e.getMessage());
            System.err.print(BootOptions.USAGE);
            return EXIT_USAGE;
        }
        return switch (options.command()) {
            case "run", "relay", "up" -> runDaemon(options, "daemon");
            case "exec" -> {
                if (options.arguments().isEmpty()) {
                    System.err.println("cloudbridge: exec needs a command, e.g. cloudbridge exec cb:status");
                    yield EXIT_USAGE;
                }
                yield AdminClient.exec(socket(options), String.join(" ", options.arguments()), System.out, System.err);
            }
            case "login" -> login(socket(options));
            case "shell" -> InteractiveShell.run(socket(options),
                    Path.of(System.getProperty("user.home"), ".cloudbridge_history"));
            case "help", "--help", "-h" -> {
                System.out.print(BootOptions.USAGE);
                yield 0;
            }
            default -> {
                System.err.println("cloudbridge: unknown command '" + options.command() + "'");
                System.err.print(BootOptions.USAGE);
                yield EXIT_USAGE;
            }
        };
    }

    /**
     * {@code cloudbridge login}: starts the device sign-in in the running node ({@code cb:login}),
     * shows where to approve it, and waits until the node reports it approved, declined or expired.
     */
    static int login(Path socket) {
        int started = AdminClient.exec(socket, "cb:login", System.out, System.err);
        if (started != 0) {
            return started;
        }
        // The node waits for the outcome itself; this asks it to answer once there is one.
        try (AdminClient client = AdminClient.connect(socket)) {
            String status = client.execute("cb:login wait").output();
            System.out.print(status);
            return status.startsWith("signed in") ? 0 : 1;
        } catch (IOException | RuntimeException | AdminClient.NoDaemonException | AdminClient.AccessDeniedException e) {
            System.err.println("cloudbridge: lost the daemon while waiting: " + e.getMessage());
            return EXIT_FAILED;
        }
    }

    /**
     * What {@code relay} and {@code up} bring besides the configured features: a relay's control
     * and data plane with its transports; a node's overlay, control plane, paths and transports
     * (and the MASQUE client, with {@code --masque-proxy}).
     */
    static List<String> roleFeatures(BootOptions options) {
        return switch (options.command()) {
            case "relay" -> List.of("shell", "relay", "transport-quic", "transport-websocket");
            case "up" -> options.masquePath() ? List.of("shell", "client", "transport-quic", "transport-websocket", "ice", "masque")
                    : List.of("shell", "client", "transport-quic", "transport-websocket", "ice");
            default -> List.of();
        };
    }

    /** The distribution folder: set by the start script, else the folder above this jar's. */
    static Path home() {
        String prop = System.getProperty(RuntimeProperties.HOME);
        if (prop != null) {
            return Path.of(prop).toAbsolutePath();
        }
        try {
            Path jar = Path.of(Launcher.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return jar.getParent().getParent().toAbsolutePath();
        } catch (URISyntaxException | NullPointerException e) {
            return Path.of("").toAbsolutePath();
        }
    }

    static Path stateDir(BootOptions options, ConfigSnapshot config) {
        if (options.stateDir() != null) {
            return options.stateDir();
        }
        String configured = config == null ? null : config.string("kernel", "state", null);
        return configured != null && !configured.isBlank() ? options.home().resolve(configured).toAbsolutePath()
                : options.home().resolve("state");
    }

    /**
     * Where the admin socket is: {@code --socket}, else the shell section's {@code socket} key, else
     * {@code STATE/admin.sock}. The client reads the same configuration the daemon does, so the two
     * agree without the operator repeating the path; a broken file falls back to the defaults here,
     * since the client only needs to find the socket.
     */
    static Path socket(BootOptions options) {
        if (options.socket() != null) {
            return options.socket();
        }
        ConfigSnapshot config;
        try {
            config = ConfigLoader.load(options.config(), System.getenv(), options.overrides());
        } catch (ConfigException e) {
            config = null;
        }
        String configured = config == null ? null : config.string("shell", "socket", null);
        if (configured != null && !configured.isBlank()) {
            return options.home().resolve(configured).toAbsolutePath();
        }
        return stateDir(options, config).resolve("admin.sock");
    }

    static int runDaemon(BootOptions options, String role) {
        Logger log = LoggerFactory.getLogger(Launcher.class);
        JulLogBridge.install();
        ConfigSnapshot config;
        try {
            config = ConfigLoader.load(options.config(), System.getenv(), options.overrides());
            ConfigLoader.checkPermissions(config, config.fileSecrets());
        } catch (ConfigException e) {
            log.error("configuration refused: {}", e.getMessage());
            System.err.println("cloudbridge: configuration refused:");
            e.problems().forEach(p -> System.err.println("  " + p));
            return EXIT_CONFIG;
        }
        applyBootLogLevel(config, log);

        Path home = options.home();
        Path state = stateDir(options, config);
        FileChannel lockChannel = null;
        try {
            Files.createDirectories(state);
            try {
                Files.setPosixFilePermissions(state, PosixFilePermissions.fromString("rwx------"));
            } catch (UnsupportedOperationException notPosix) {
                // Windows: the folder inherits the ACL of its parent
            }
            lockChannel = FileChannel.open(state.resolve("daemon.lock"), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE);
            FileLock lock = lockChannel.tryLock();
            if (lock == null) {
                System.err.println("cloudbridge: another daemon is running with the state folder " + state);
                return EXIT_FAILED;
            }
        } catch (IOException e) {
            System.err.println("cloudbridge: cannot prepare the state folder " + state + ": " + e.getMessage());
            return EXIT_FAILED;
        }

        List<String> configured = new java.util.ArrayList<>(config.list("kernel", "features", List.of("core", "shell")));
        for (String roleFeature : roleFeatures(options)) {
            if (!configured.contains(roleFeature)) {
                configured.add(roleFeature);
            }
        }
        FeatureCatalog catalog;
        List<BundleJar> bundles;
        List<String> features;
        try {
            catalog = FeatureCatalog.load(home.resolve("features"), home.resolve("bundles"));
            catalog.warnings().forEach(w -> log.warn("{}", w));
            features = catalog.effective(configured, FeatureState.read(state));
            bundles = catalog.bundlesOf(features);
            String platform = io.cloudbridge.boot.feature.Platform.current();
            List<String> asked = new ArrayList<>(configured);
            asked.addAll(FeatureState.read(state).added());
            for (String name : catalog.closure(asked.stream().filter(catalog.features()::containsKey).toList())) {
                // Only those left out for the platform: one uninstalled at run time is left out on purpose.
                if (!features.contains(name)) {
                    catalog.notRunningOn(name, platform).ifPresent(why -> log.warn("feature {} is left out on {}: {}", name, platform, why));
                }
            }
        } catch (FeatureException e) {
            log.error("features cannot be assembled: {}", e.getMessage());
            System.err.println("cloudbridge: " + e.getMessage());
            return EXIT_CONFIG;
        }

        long pollMillis = parseLong(config.string("kernel", "deployPollMillis", "1000"), 1000);
        Path deploy = home.resolve(config.string("kernel", "deploy", "deploy")).toAbsolutePath();
        Map<String, String> props = RuntimeProperties.base(state, deploy, pollMillis);
        props.put(RuntimeProperties.HOME, home.toString());
        props.put(RuntimeProperties.CONFIG, options.config().toString());
        props.put(RuntimeProperties.ROLE, role);
        props.put(RuntimeProperties.CLI_OVERRIDES, String.join("\n", options.overrides()));
        props.put(RuntimeProperties.CONFIGURED_FEATURES, String.join(",", configured));
        props.put(RuntimeProperties.ROLE_FEATURES, String.join(",", roleFeatures(options)));
        props.put(StartupRefusal.STRICT, "true");
        Map<String, Object> frameworkConfig = new java.util.HashMap<>(props);
        frameworkConfig.put("felix.log.logger", new FelixLogBridge());

        BootLibraries.initialiseSharedState();
        // Under a systemd notify unit: READY when the start is done, STOPPING, STATUS, WATCHDOG.
        SystemdNotifier systemd = SystemdNotifier.fromEnvironment(System.getenv());
        Framework framework = new FrameworkFactory().newFramework(frameworkConfig);
        // SIGTERM runs the hook while the main thread waits for the framework to stop; the JVM halts
        // once the hook returns, so the hook waits (briefly) for the main thread's last words.
        java.util.concurrent.CountDownLatch finished = new java.util.concurrent.CountDownLatch(1);
        Thread stopper = new Thread(() -> {
            systemd.stopping("stopping: signalled");
            stop(framework, log);
            try {
                finished.await(2, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "cloudbridge-shutdown");
        Runtime.getRuntime().addShutdownHook(stopper);
        try {
            StartProgress.begin();
            systemd.status("starting: " + bundles.size() + " bundles of " + String.join(",", features));
            framework.init();
            log.debug("framework initialised");
            BundleContext ctx = framework.getBundleContext();
            List<Bundle> installed = new ArrayList<>();
            for (BundleJar jar : bundles) {
                installed.add(ctx.installBundle(jar.location()));
            }
            log.debug("{} bundles installed", installed.size());
            framework.start();
            // Resolve everything first, so that metatype and wiring are known before the kernel's
            // configuration bridge runs and no component activates twice.
            framework.adapt(org.osgi.framework.wiring.FrameworkWiring.class).resolveBundles(null);
            log.debug("bundles resolved");
            StartupRefusal.starting(true);
            int failed = 0;
            for (int i = 0; i < installed.size(); i++) {
                if (bundles.get(i).fragment()) {
                    continue;
                }
                // An operator's shell answers before the last bundle starts: a bundle uninstalled
                // from there in the meantime is theirs to bring back, not a reason to end the start.
                if (installed.get(i).getState() == Bundle.UNINSTALLED) {
                    log.warn("bundle {} was uninstalled during the start; not started", bundles.get(i).symbolicName());
                    continue;
                }
                try {
                    log.debug("starting {}", bundles.get(i).symbolicName());
                    installed.get(i).start();
                } catch (BundleException | IllegalStateException e) {
                    failed++;
                    StartFailures.record(bundles.get(i).symbolicName(), e.getMessage());
                    log.error("bundle {} did not start: {}", bundles.get(i).symbolicName(), e.getMessage());
                }
            }
            recheckConfiguration(ctx, log);
            StartupRefusal.starting(false);
            StartProgress.finish();
            // The JVM's own start time: /proc's process start time is only as precise as the
            // kernel's boot-time second.
            long startupMillis = System.currentTimeMillis()
                    - java.lang.management.ManagementFactory.getRuntimeMXBean().getStartTime();
            log.info("runtime started: role={} features={} bundles={} failed={} startupMillis={}", role,
                    String.join(",", features), installed.size(), failed, startupMillis);
            ClassDataArchive.started(log);
            systemd.ready("running: " + role + ", " + installed.size() + " bundles" + (failed > 0 ? ", " + failed + " failed to start" : ""));
            systemd.startWatchdog(() -> framework.getState() == Bundle.ACTIVE);
            framework.waitForStop(0);
            systemd.stopping("stopped");
            log.info("runtime stopped");
            if (StartupRefusal.problems().isPresent()) {
                System.err.println("cloudbridge: configuration refused:");
                StartupRefusal.problems().get().forEach(p -> System.err.println("  " + p));
                return EXIT_CONFIG;
            }
            return 0;
        } catch (BundleException | RuntimeException e) {
            StartProgress.finish();
            systemd.status("failed to start: " + e.getMessage());
            log.error("the runtime failed to start", e);
            stop(framework, log);
            return EXIT_FAILED;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return EXIT_FAILED;
        } finally {
            StartProgress.finish();
            systemd.close();
            try {
                lockChannel.close();
            } catch (IOException ignored) {
                // the process is ending
            }
            finished.countDown();
        }
    }

    /**
     * Has the kernel's configuration bridge check the file once more, now that every bundle is
     * active and every section's validators are registered (a section of a bundle that started
     * after the kernel was only type-checked at first). Called by name: the launcher does not link
     * against the API bundle.
     */
    private static void recheckConfiguration(BundleContext ctx, Logger log) {
        org.osgi.framework.ServiceReference<?> ref = ctx.getServiceReference("io.cloudbridge.api.runtime.ConfigurationView");
        if (ref == null) {
            return;
        }
        Object view = ctx.getService(ref);
        try {
            view.getClass().getMethod("reload").invoke(view);
        } catch (ReflectiveOperationException e) {
            log.warn("could not re-check the configuration after start: {}", e.toString());
        } finally {
            ctx.ungetService(ref);
        }
    }

    private static void stop(Framework framework, Logger log) {
        if (framework.getState() != Bundle.ACTIVE && framework.getState() != Bundle.STARTING) {
            return;
        }
        try {
            framework.stop();
            if (framework.waitForStop(STOP_TIMEOUT_MILLIS).getType() == org.osgi.framework.FrameworkEvent.WAIT_TIMEDOUT) {
                log.warn("the framework did not stop within {} ms", STOP_TIMEOUT_MILLIS);
            }
        } catch (BundleException e) {
            log.error("stopping the framework failed", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The level before the kernel's logging component takes over, so early messages obey it too. */
    private static void applyBootLogLevel(ConfigSnapshot config, Logger log) {
        LogLevel level = LogLevel.parse(config.string("logging", "level", "info"));
        if (level != null) {
            try {
                LogControl.apply(LogControl.settings().withLevel(level));
            } catch (IOException e) {
                log.warn("cannot apply the log level: {}", e.toString());
            }
        }
    }

    private static long parseLong(String text, long fallback) {
        try {
            return Long.parseLong(text.trim());
        } catch (NumberFormatException e) {
            return fallback;
        }
    }
}
