package io.cloudbridge.ice.internal;

import io.cloudbridge.api.runtime.ConfigurationValidator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.osgi.service.component.annotations.Component;

/**
 * Refuses an {@code ice} edit whose TURN servers do not parse or come without the credentials
 * they need, before it applies: a node must not lose hole punching to a typo in the TURN lines.
 */
@Component(property = ConfigurationValidator.SECTION + "=ice")
public final class TurnValidator implements ConfigurationValidator {

    @Override
    public List<String> validate(Map<String, Object> values) {
        List<String> problems = new ArrayList<>();
        if (!(values.get("turnServers") instanceof String[] servers) || servers.length == 0) {
            return problems;
        }
        for (int i = 0; i < servers.length; i++) {
            String s = servers[i].startsWith("turn:") ? servers[i].substring(5) : servers[i];
            try {
                NetCheck.parse(s);
            } catch (IllegalArgumentException e) {
                problems.add("turnServers[" + i + "]: " + e.getMessage());
            }
        }
        if (!(values.get("turnUsername") instanceof String user) || user.isBlank()) {
            problems.add("turnUsername: TURN servers need a user name (long-term credentials)");
        }
        if (!(values.get("turnPasswordFile") instanceof String file) || file.isBlank()) {
            problems.add("turnPasswordFile: TURN servers need a file holding the password");
        } else if (!Files.isReadable(Path.of(file))) {
            problems.add("turnPasswordFile: " + file + " cannot be read");
        }
        return problems;
    }
}
