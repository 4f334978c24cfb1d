package io.cloudbridge.audit.internal;

import io.cloudbridge.api.runtime.ConfigurationValidator;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.osgi.service.component.annotations.Component;

/**
 * Refuses an {@code audit} edit whose syslog address does not parse or resolve, before it applies:
 * the trail must not stop (its component failing to start) for a typo in where its copy goes.
 */
@Component(property = ConfigurationValidator.SECTION + "=audit")
public final class SyslogAddressValidator implements ConfigurationValidator {

    @Override
    public List<String> validate(Map<String, Object> values) {
        if (!(values.get("syslog") instanceof String address) || address.isBlank()) {
            return List.of();
        }
        try {
            SyslogForwarder.Address.parse(address).resolve();
            return List.of();
        } catch (IOException e) {
            return List.of("syslog: " + e.getMessage());
        }
    }
}
