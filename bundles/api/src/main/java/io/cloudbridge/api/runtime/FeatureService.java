package io.cloudbridge.api.runtime;

import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/**
 * The runtime's features: named sets of bundles installed at boot and changed while the daemon
 * runs. Changes are remembered across restarts until {@link #reset()}.
 */
@ProviderType
public interface FeatureService {

    List<FeatureInfo> features();

    /** Installs a feature (and what it requires) and starts its bundles. */
    FeatureInfo install(String name) throws FeatureOperationException;

    /** Uninstalls a feature's bundles that no other installed feature needs. */
    FeatureInfo uninstall(String name) throws FeatureOperationException;

    /** Drops every runtime change and returns to the configured features. */
    List<FeatureInfo> reset() throws FeatureOperationException;

    /** Whether every installed feature is active, and what is wrong when not. */
    HealthReport health();
}
