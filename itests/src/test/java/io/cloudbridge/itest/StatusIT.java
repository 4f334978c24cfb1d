package io.cloudbridge.itest;

import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import io.cloudbridge.api.runtime.FeatureService;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import javax.inject.Inject;
import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;

/**
 * {@code cb:status} names what is wrong: a bundle that cannot resolve, a component whose mandatory
 * reference is missing (and which one), and a stopped bundle of a configured feature.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class StatusIT {
    @Inject
    BundleContext context;
    @Inject
    CommandProcessor processor;
    @Inject
    FeatureService features;

    @Configuration
    public Option[] config() throws Exception {
        Path dir = Files.createTempDirectory("cloudbridge-broken");
        Files.write(dir.resolve("lonely.jar"), TestBundles.build("com.example.lonely", "io.cloudbridge.itest.lonely", java.util.Map.of()));
        Manifest m = new Manifest();
        Attributes a = m.getMainAttributes();
        a.put(Attributes.Name.MANIFEST_VERSION, "1.0");
        a.putValue("Bundle-ManifestVersion", "2");
        a.putValue("Bundle-SymbolicName", "com.example.unresolvable");
        a.putValue("Import-Package", "com.example.nowhere;version=\"[1,2)\"");
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(dir.resolve("unresolvable.jar")), m)) {
            out.flush();
        }
        Option[] runtime = RuntimeTestSupport.runtime(List.of("core", "shell"), RuntimeTestSupport.DEFAULT_YAML);
        return TestBundles.with(runtime, "itest.broken.dir", dir.toString());
    }

    private String status() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream print = new PrintStream(out, true);
        CommandSession session = processor.createSession(InputStream.nullInputStream(), print, print);
        try {
            return String.valueOf(session.execute("cb:status"));
        } finally {
            session.close();
        }
    }

    @Test
    public void statusNamesUnresolvedBundlesUnsatisfiedReferencesAndStoppedFeatureBundles() throws Exception {
        assertTrue(status(), status().contains("health:          ok"));
        Path dir = Path.of(context.getProperty("itest.broken.dir"));
        Bundle lonely = context.installBundle(dir.resolve("lonely.jar").toUri().toString());
        lonely.start();
        Bundle unresolvable = context.installBundle(dir.resolve("unresolvable.jar").toUri().toString());
        try {
            unresolvable.start();
        } catch (BundleException expected) {
            // cannot resolve: that is the point
        }
        Bundle function = Arrays.stream(context.getBundles())
                .filter(b -> "org.osgi.util.function".equals(b.getSymbolicName())).findFirst().orElseThrow();
        function.stop();
        try {
            String s = status();
            assertTrue(s, s.contains("health:          degraded"));
            assertTrue(s, s.contains("problem:         component io.cloudbridge.itest.lonely.Lonely is unsatisfied:"
                    + " missing reference missingExecutor (purpose=nobody-provides-this)"));
            assertTrue(s, s.contains("problem:         bundle com.example.unresolvable is INSTALLED (unresolved)"));
            assertTrue(s, s.contains("problem:         feature core: org.osgi.util.function is RESOLVED (not started)"));
            assertTrue(s, s.contains("features:        core (degraded), shell"));
            assertFalse(features.health().healthy());
        } finally {
            function.start();
            lonely.uninstall();
            unresolvable.uninstall();
        }
        assertTrue(status(), status().contains("health:          ok"));
    }
}
