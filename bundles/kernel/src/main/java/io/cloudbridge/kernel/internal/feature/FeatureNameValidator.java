package io.cloudbridge.kernel.internal.feature;

import io.cloudbridge.api.runtime.ConfigurationValidator;
import io.cloudbridge.boot.RuntimeProperties;
import io.cloudbridge.boot.feature.FeatureCatalog;
import io.cloudbridge.boot.feature.FeatureException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;

/**
 * Refuses a {@code kernel.features} edit that names a feature the distribution does not have, so
 * that such an edit is refused whole like any other bad value instead of being half applied.
 */
@Component(property = ConfigurationValidator.SECTION + "=kernel")
public final class FeatureNameValidator implements ConfigurationValidator {
    private FeatureCatalog catalog;

    @Activate
    void activate(BundleContext ctx) throws FeatureException {
        Path home = Path.of(ctx.getProperty(RuntimeProperties.HOME));
        catalog = FeatureCatalog.load(home.resolve("features"), home.resolve("bundles"));
    }

    @Override
    public List<String> validate(Map<String, Object> values) {
        List<String> problems = new ArrayList<>();
        if (values.get("features") instanceof String[] names) {
            for (String name : names) {
                if (!catalog.features().containsKey(name)) {
                    problems.add("features: no feature named '" + name + "'; known: "
                            + String.join(", ", catalog.features().keySet()));
                }
            }
        }
        return problems;
    }
}
