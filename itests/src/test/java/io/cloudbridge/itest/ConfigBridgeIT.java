package io.cloudbridge.itest;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import io.cloudbridge.api.runtime.ConfigStatus;
import io.cloudbridge.api.runtime.ConfigValue;
import io.cloudbridge.api.runtime.ConfigurationView;
import io.cloudbridge.boot.RuntimeProperties;
import io.cloudbridge.boot.log.LogControl;
import io.cloudbridge.boot.log.LogLevel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import javax.inject.Inject;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.BundleContext;
import org.osgi.service.cm.ConfigurationAdmin;

/**
 * The YAML bridge end to end: a file edit reaches a component's {@code @Modified} within a second;
 * a bad edit is refused whole, with file, line and key, and the previous values stay in force.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class ConfigBridgeIT {
    @Inject
    BundleContext context;
    @Inject
    ConfigurationView view;
    @Inject
    ConfigurationAdmin configAdmin;

    @Configuration
    public Option[] config() throws Exception {
        return RuntimeTestSupport.runtime(List.of("core", "shell"), RuntimeTestSupport.DEFAULT_YAML);
    }

    private Path file() {
        return Path.of(context.getProperty(RuntimeProperties.CONFIG));
    }

    private String value(String section, String key) {
        return view.effective().stream().filter(v -> v.section().equals(section) && v.key().equals(key))
                .map(ConfigValue::value).findFirst().orElse(null);
    }

    private void edit(String level, String extra) throws Exception {
        RuntimeTestSupport.writeOwnerOnly(file(), String.join("\n",
                "kernel:", "  features: [core, shell]",
                "logging:", "  level: " + level,
                "shell:", "  maxSessions: 4",
                "metrics:", "  enabled: false", extra, ""));
    }

    @Test
    public void anEditReachesTheComponentWithinOneSecondAndABadEditChangesNothing() throws Exception {
        Await.until(Duration.ofSeconds(10), "logging configured from the file",
                () -> LogControl.settings().level() == LogLevel.INFO && "info".equals(value("logging", "level")));
        long appliedBefore = view.status().accepted();

        // A good edit: the logging component's @Modified applies the new level.
        edit("debug", "");
        Duration took = Await.until(Duration.ofSeconds(1), "the new level applied by @Modified",
                () -> LogControl.settings().level() == LogLevel.DEBUG);
        assertTrue("took " + took.toMillis() + " ms", took.toMillis() < 1000);
        // The bridge pushes to ConfigAdmin, whose delivery can beat the bridge's own bookkeeping:
        // the view shows the new file once the bridge counts the edit as applied.
        Await.until(Duration.ofSeconds(2), "the edit counted as applied",
                () -> view.status().accepted() == appliedBefore + 1);
        assertEquals("debug", value("logging", "level"));
        assertEquals("file", view.effective().stream().filter(v -> v.key().equals("level")).findFirst().get().origin());
        assertEquals(appliedBefore + 1, view.status().accepted());

        // A bad value in one section and a good one in another: refused whole.
        long refusedBefore = view.status().rejected();
        edit("loud", "  port: 70000");
        Await.until(Duration.ofSeconds(2), "the bad edit refused", () -> view.status().rejected() == refusedBefore + 1);
        ConfigStatus status = view.status();
        String why = status.lastRejection().orElse("");
        assertTrue(why, why.contains("cloudbridge.yaml:4: logging.level: 'loud' is not one of"));
        assertTrue(why, why.contains("cloudbridge.yaml:9: metrics.port"));
        assertEquals(LogLevel.DEBUG, LogControl.settings().level());
        assertEquals("debug", value("logging", "level"));
        assertEquals("debug", configAdmin.getConfiguration("cloudbridge.logging", "?").getProperties().get("level"));

        // Invalid YAML and an unknown key: refused too, the old values stay.
        RuntimeTestSupport.writeOwnerOnly(file(), "logging:\n  level: [unclosed\n");
        Await.until(Duration.ofSeconds(2), "invalid YAML refused", () -> view.status().rejected() == refusedBefore + 2);
        assertTrue(view.status().lastRejection().orElse(""), view.status().lastRejection().orElse("").contains("invalid YAML"));
        edit("info", "  colour: red");
        Await.until(Duration.ofSeconds(2), "unknown key refused", () -> view.status().rejected() == refusedBefore + 3);
        assertTrue(view.status().lastRejection().orElse("").contains("metrics.colour: unknown key"));
        assertEquals(LogLevel.DEBUG, LogControl.settings().level());

        // A file caught empty mid-edit (truncate, then write) is refused, not read as "all defaults".
        java.nio.file.Files.write(file(), new byte[0]);
        Await.until(Duration.ofSeconds(2), "the empty file refused", () -> view.status().rejected() == refusedBefore + 4);
        assertTrue(view.status().lastRejection().orElse("").contains("the file is empty"));
        assertEquals(LogLevel.DEBUG, LogControl.settings().level());

        // Fixing the file applies it.
        edit("warn", "");
        Await.until(Duration.ofSeconds(1), "the fixed file applied", () -> LogControl.settings().level() == LogLevel.WARN);
        Await.until(Duration.ofSeconds(2), "the last rejection cleared", () -> view.status().lastRejection().isEmpty());
    }

    /**
     * A bundle update takes the section's bundle away for a moment: its configuration must stay in
     * ConfigAdmin all along, or the new revision's components activate on defaults first (the lab
     * saw a WireGuard interface come up with a new key that way, and the node register under it).
     */
    @Test
    public void aBundleUpdateKeepsItsSectionsConfigurationThroughout() throws Exception {
        long goodBefore = view.status().accepted();
        edit("info", ""); // the tests share one file: start from a good one
        Await.until(Duration.ofSeconds(10), "a good file applied, shell configured",
                () -> view.status().accepted() > goodBefore && view.status().lastRejection().isEmpty()
                        && "4".equals(value("shell", "maxSessions")));
        java.util.List<String> events = new java.util.concurrent.CopyOnWriteArrayList<>();
        org.osgi.framework.ServiceRegistration<org.osgi.service.cm.ConfigurationListener> listening = context.registerService(
                org.osgi.service.cm.ConfigurationListener.class, e -> {
                    if ("cloudbridge.shell".equals(e.getPid())) {
                        events.add(e.getType() == org.osgi.service.cm.ConfigurationEvent.CM_DELETED ? "deleted" : "updated");
                    }
                }, null);
        try {
            org.osgi.framework.Bundle shell = java.util.Arrays.stream(context.getBundles())
                    .filter(b -> "io.cloudbridge.shell".equals(b.getSymbolicName())).findFirst().orElseThrow();
            long appliedBefore = view.status().accepted();
            // An update of a stopped bundle leaves it installed, unresolved, until it starts: the
            // moment of a live update when the section's bundle is away, held until it is seen.
            shell.stop();
            shell.update();
            Await.until(Duration.ofSeconds(10), "the shell section pending while its bundle is away",
                    () -> view.status().pendingSections().contains("shell"));
            assertTrue("configuration events while the shell bundle was away: " + events, !events.contains("deleted"));
            shell.start();
            Await.until(Duration.ofSeconds(10), "the shell bundle active again and the configuration checked",
                    () -> shell.getState() == org.osgi.framework.Bundle.ACTIVE && view.status().accepted() > appliedBefore
                            && view.status().pendingSections().isEmpty());
            assertTrue("configuration events while the shell bundle was updated: " + events, !events.contains("deleted"));
            assertEquals(4, configAdmin.getConfiguration("cloudbridge.shell", "?").getProperties().get("maxSessions"));
        } finally {
            listening.unregister();
        }
    }

    @Test
    public void aSectionForAnAbsentFeatureIsKeptAsAWarningNotARejection() throws Exception {
        long refusedBefore = view.status().rejected();
        long appliedBefore = view.status().accepted();
        edit("info", "masque:\n  enabled: true");
        Await.until(Duration.ofSeconds(2), "applied with a pending section", () -> view.status().accepted() > appliedBefore);
        assertEquals(refusedBefore, view.status().rejected());
        assertEquals(List.of("masque"), view.status().pendingSections());
        assertTrue(view.effective().stream().anyMatch(v -> v.section().equals("masque")
                && v.where().endsWith("(feature not installed)")));
    }

    @Test
    public void secretsInAFileReadableByOthersAreRefused() throws Exception {
        long refusedBefore = view.status().rejected();
        RuntimeTestSupport.writeOwnerOnly(file(), "logging:\n  level: info\nauth:\n  clientSecret: s3cr3t\n");
        java.nio.file.Files.setPosixFilePermissions(file(), java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        // A permission change alone raises no event on every file system: touch the content too.
        java.nio.file.Files.writeString(file(), "logging:\n  level: info\nauth:\n  clientSecret: s3cr3t\n#\n");
        Await.until(Duration.ofSeconds(2), "the readable secret refused", () -> view.status().rejected() > refusedBefore);
        assertTrue(view.status().lastRejection().orElse("").contains("readable by group or others"));
        assertTrue(view.effective().stream().noneMatch(v -> v.value().contains("s3cr3t")));
    }
}
