package io.cloudbridge.api.runtime;

import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/** The configuration in force, where each value came from, and how the latest edits fared. */
@ProviderType
public interface ConfigurationView {

    /** Every attribute of every installed component's section, secrets masked. */
    List<ConfigValue> effective();

    ConfigStatus status();

    /**
     * Reads the file again and applies it now, whole or not at all, returning when done. The
     * feature manager calls it after installing bundles and before starting them, so that they
     * start with their configuration rather than their defaults.
     */
    ConfigStatus reload();
}
