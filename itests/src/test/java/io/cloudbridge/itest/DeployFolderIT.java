package io.cloudbridge.itest;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;
import io.cloudbridge.api.runtime.ConfigurationView;
import io.cloudbridge.boot.RuntimeProperties;
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

/**
 * A vendor bundle built here with bnd (a DS component from {@link io.cloudbridge.itest.vendor}),
 * dropped into the deploy folder: it starts and its service appears; replaced, it is updated;
 * deleted, it is gone.
 */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class DeployFolderIT {
    @Inject
    BundleContext context;
    @Inject
    ConfigurationView view;

    @Configuration
    public Option[] config() throws Exception {
        // Built here, outside the framework, where bnd is on the class path; the test inside the
        // framework finds the jars through a framework property.
        Path vendorDir = Files.createTempDirectory("cloudbridge-vendor");
        Files.write(vendorDir.resolve("greeter-1.0.0.jar"), vendorBundle("1.0.0"));
        Files.write(vendorDir.resolve("greeter-1.1.0.jar"), vendorBundle("1.1.0"));
        // The vendor's section is in the file before its bundle exists.
        Option[] runtime = RuntimeTestSupport.runtime(List.of("core"),
                RuntimeTestSupport.DEFAULT_YAML.replace("[core, shell]", "[core]") + "greeter:\n  greeting: hi\n");
        return TestBundles.with(runtime, "itest.vendor.dir", vendorDir.toString());
    }

    /** Builds the vendor bundle from this module's compiled test classes. */
    static byte[] vendorBundle(String version) throws Exception {
        return TestBundles.build("com.example.vendor.greeter", "io.cloudbridge.itest.vendor",
                java.util.Map.of("Bundle-Version", version, "Greeting-Version", version));
    }

    @SuppressWarnings("unchecked")
    private String greeting() {
        try {
            ServiceReference<?>[] refs = context.getAllServiceReferences(Supplier.class.getName(), "(vendor=example)");
            if (refs == null || refs.length == 0) {
                return null;
            }
            Supplier<String> s = (Supplier<String>) context.getService(refs[0]);
            try {
                return s == null ? null : s.get();
            } finally {
                context.ungetService(refs[0]);
            }
        } catch (InvalidSyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    public void aDroppedJarStartsAReplacedOneUpdatesADeletedOneGoes() throws Exception {
        Path deploy = Path.of(context.getProperty("felix.fileinstall.dir"));
        Path jar = deploy.resolve("greeter.jar");
        Path vendorDir = Path.of(context.getProperty("itest.vendor.dir"));
        Path staging = Files.createTempFile(deploy.getParent(), "greeter", ".tmp");

        Files.copy(vendorDir.resolve("greeter-1.0.0.jar"), staging, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.move(staging, jar);
        // Its section was kept as pending; now that its schema is installed it is checked and applied.
        Await.until(Duration.ofSeconds(10), "the vendor service with its configuration",
                () -> "hi from 1.0.0".equals(greeting()));
        Await.until(Duration.ofSeconds(2), "no section pending", () -> view.status().pendingSections().isEmpty());

        // Its section is checked against its schema like any other: out of range is refused.
        Path config = Path.of(context.getProperty(RuntimeProperties.CONFIG));
        long refused = view.status().rejected();
        RuntimeTestSupport.writeOwnerOnly(config, "greeter:\n  greeting: hey\n  volume: 11\n");
        Await.until(Duration.ofSeconds(2), "the bad vendor value refused", () -> view.status().rejected() > refused);
        assertTrue(view.status().lastRejection().orElse(""),
                view.status().lastRejection().orElse("").contains("cloudbridge.yaml:3: greeter.volume"));
        assertEquals("hi from 1.0.0", greeting());
        RuntimeTestSupport.writeOwnerOnly(config, "greeter:\n  greeting: hey\n  volume: 10\n");
        Await.until(Duration.ofSeconds(1), "the good vendor value applied", () -> "hey from 1.0.0".equals(greeting()));

        Files.copy(vendorDir.resolve("greeter-1.1.0.jar"), staging, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.move(staging, jar, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Await.until(Duration.ofSeconds(10), "the updated vendor service", () -> "hey from 1.1.0".equals(greeting()));

        Files.delete(jar);
        Await.until(Duration.ofSeconds(10), "the vendor service gone", () -> greeting() == null);
        // The service goes when the bundle stops; the uninstall follows.
        Await.until(Duration.ofSeconds(10), "the vendor bundle uninstalled", () -> java.util.Arrays.stream(context.getBundles())
                .noneMatch(b -> "com.example.vendor.greeter".equals(b.getSymbolicName())));
    }
}
