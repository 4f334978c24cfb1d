package io.cloudbridge.itest;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;

import io.cloudbridge.api.runtime.FeatureInfo;
import io.cloudbridge.api.runtime.FeatureService;
import io.cloudbridge.api.runtime.HealthReport;
import java.util.ArrayList;
import java.util.List;
import javax.inject.Inject;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.ops4j.pax.exam.Configuration;
import org.ops4j.pax.exam.Option;
import org.ops4j.pax.exam.junit.PaxExam;
import org.ops4j.pax.exam.spi.reactors.ExamReactorStrategy;
import org.ops4j.pax.exam.spi.reactors.PerClass;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.runtime.ServiceComponentRuntime;
import org.osgi.service.component.runtime.dto.ComponentConfigurationDTO;
import org.osgi.service.component.runtime.dto.ComponentDescriptionDTO;

/** The core and shell features boot whole: every bundle active, every component satisfied. */
@RunWith(PaxExam.class)
@ExamReactorStrategy(PerClass.class)
public class CoreRuntimeIT {
    @Inject
    BundleContext context;
    @Inject
    ServiceComponentRuntime scr;
    @Inject
    FeatureService features;

    @Configuration
    public Option[] config() throws Exception {
        return RuntimeTestSupport.runtime(List.of("core", "shell"), RuntimeTestSupport.DEFAULT_YAML);
    }

    @Test
    public void everyBundleOfCoreAndShellIsActive() {
        List<String> names = new ArrayList<>();
        for (FeatureInfo f : features.features()) {
            if (f.name().equals("core") || f.name().equals("shell")) {
                assertTrue(f.name() + " installed", f.installed());
                names.addAll(f.bundles());
            }
        }
        assertTrue("core names the kernel", names.contains("io.cloudbridge.kernel"));
        for (String name : names) {
            Bundle bundle = find(name);
            assertNotNull(name + " installed", bundle);
            boolean fragment = bundle.getHeaders().get("Fragment-Host") != null;
            assertEquals(name + " state", fragment ? Bundle.RESOLVED : Bundle.ACTIVE, bundle.getState());
        }
        HealthReport health = features.health();
        assertTrue(String.valueOf(health.problems()), health.healthy());
    }

    @Test
    public void everyComponentIsSatisfied() {
        int checked = 0;
        for (ComponentDescriptionDTO d : scr.getComponentDescriptionDTOs()) {
            if (!d.bundle.symbolicName.startsWith("io.cloudbridge")) {
                continue;
            }
            var configurations = scr.getComponentConfigurationDTOs(d);
            assertTrue(d.name + " has a configuration", !configurations.isEmpty());
            for (ComponentConfigurationDTO c : configurations) {
                assertTrue(d.name + " is satisfied (state " + c.state + ")",
                        c.state == ComponentConfigurationDTO.ACTIVE || c.state == ComponentConfigurationDTO.SATISFIED);
                checked++;
            }
        }
        assertTrue("our components were found: " + checked, checked >= 9);
    }

    private Bundle find(String symbolicName) {
        for (Bundle b : context.getBundles()) {
            if (symbolicName.equals(b.getSymbolicName())) {
                return b;
            }
        }
        return null;
    }
}
