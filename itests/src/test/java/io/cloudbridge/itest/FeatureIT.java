package io.cloudbridge.itest;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import io.cloudbridge.api.runtime.FeatureInfo;
import io.cloudbridge.api.runtime.FeatureOperationException;
import io.cloudbridge.api.runtime.FeatureService;
import io.cloudbridge.boot.RuntimeProperties;
import io.cloudbridge.boot.feature.FeatureState;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import javax.inject.Inject;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;

/** A feature uninstalled and installed at run time: its services go and come back; reset undoes it. */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class FeatureIT {
    @Inject
    BundleContext context;
    @Inject
    FeatureService features;
    @Inject
    io.cloudbridge.api.runtime.ConfigurationView view;

    @Configuration
    public Option[] config() throws Exception {
        return RuntimeTestSupport.runtime(List.of("core", "shell"), RuntimeTestSupport.DEFAULT_YAML);
    }

    /** Whether a Gogo command named {@code function} is registered (gogo.command's {@code lb}, say). */
    private boolean command(String function) {
        try {
            ServiceReference<?>[] refs = context.getAllServiceReferences(null, "(osgi.command.function=" + function + ")");
            return refs != null && refs.length > 0;
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private FeatureInfo feature(String name) {
        return features.features().stream().filter(f -> f.name().equals(name)).findFirst().orElseThrow();
    }

    private FeatureState state() throws Exception {
        return FeatureState.read(Path.of(context.getProperty(RuntimeProperties.STATE)));
    }

    @Test
    public void uninstallInstallAndResetAtRunTime() throws Exception {
        Await.until(Duration.ofSeconds(10), "the shell feature's lb command", () -> command("lb"));
        assertTrue(feature("shell").active());

        features.uninstall("shell");
        assertFalse("lb is gone with its bundle", command("lb"));
        assertFalse(feature("shell").installed());
        assertTrue("the kernel's own commands stay", command("status"));
        assertEquals(Set.of("shell"), state().removed());
        assertTrue(features.health().healthy());

        features.install("shell");
        Await.until(Duration.ofSeconds(5), "lb back", () -> command("lb"));
        assertTrue(feature("shell").active());
        assertTrue("re-installing a configured feature leaves no runtime change", state().removed().isEmpty());

        features.uninstall("shell");
        assertFalse(command("lb"));
        features.reset();
        Await.until(Duration.ofSeconds(5), "lb back after reset", () -> command("lb"));
        assertTrue(state().added().isEmpty() && state().removed().isEmpty());
    }

    @Test
    public void editingTheConfiguredFeaturesAppliesTheDifference() throws Exception {
        Await.until(Duration.ofSeconds(10), "lb", () -> command("lb"));
        Path config = Path.of(context.getProperty(RuntimeProperties.CONFIG));
        RuntimeTestSupport.writeOwnerOnly(config, RuntimeTestSupport.DEFAULT_YAML.replace("[core, shell]", "[core]"));
        Await.until(Duration.ofSeconds(3), "shell uninstalled by the edit",
                () -> !command("lb") && !feature("shell").installed());
        assertTrue("a configuration edit is not a runtime change", state().removed().isEmpty());
        RuntimeTestSupport.writeOwnerOnly(config, RuntimeTestSupport.DEFAULT_YAML);
        Await.until(Duration.ofSeconds(3), "shell installed by the edit", () -> command("lb") && feature("shell").active());

        // A feature name the distribution lacks: refused whole, nothing changes.
        long refused = view.status().rejected();
        RuntimeTestSupport.writeOwnerOnly(config, RuntimeTestSupport.DEFAULT_YAML.replace("[core, shell]", "[core, nosuch]"));
        Await.until(Duration.ofSeconds(2), "the unknown feature refused", () -> view.status().rejected() > refused);
        assertTrue(view.status().lastRejection().orElse(""),
                view.status().lastRejection().orElse("").contains("kernel: features: no feature named 'nosuch'"));
        assertTrue(command("lb"));
        RuntimeTestSupport.writeOwnerOnly(config, RuntimeTestSupport.DEFAULT_YAML);
        Await.until(Duration.ofSeconds(2), "the good file applied again", () -> view.status().lastRejection().isEmpty());
    }

    @Test
    public void refusedChangesSayWhy() {
        expectRefusal(() -> features.uninstall("core"), "base feature");
        expectRefusal(() -> features.install("nonexistent"), "no feature named 'nonexistent'");
        expectRefusal(() -> features.install("core"), "already installed");
    }

    private interface Change {
        void run() throws FeatureOperationException;
    }

    private static void expectRefusal(Change change, String reason) {
        try {
            change.run();
            fail("expected a refusal: " + reason);
        } catch (FeatureOperationException e) {
            assertTrue(e.getMessage(), e.getMessage().contains(reason));
        }
    }
}
