package io.cloudbridge.api.runtime;

import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/** The configuration in force, where each value came from, and how the latest edits fared. */
@ProviderType
public interface ConfigurationView {

    /** Every attribute of every installed component's section, secrets masked. */
    List<ConfigValue> effective();

    ConfigStatus status();
}
