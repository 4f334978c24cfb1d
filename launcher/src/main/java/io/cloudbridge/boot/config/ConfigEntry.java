package io.cloudbridge.boot.config;

/**
 * One configured value.
 *
 * @param section the YAML section, which names the ConfigAdmin PID {@code cloudbridge.<section>}
 * @param key     the key as written (in the file) or as given (an environment variable or CLI flag,
 *                matched against the component's attribute names by {@link KeyNames#normalize})
 * @param value   the text as written ({@code String}), a {@code java.util.List} of texts, or
 *                {@code null}; typed later against the component's metatype
 * @param origin  where it came from
 * @param where   a human pointer to it: {@code file:line}, the variable name, or the flag
 * @param line    the line in the file, or 0 when it did not come from the file
 */
public record ConfigEntry(String section, String key, Object value, Origin origin, String where, int line) {

    public ConfigEntry withValue(Object newValue, Origin newOrigin, String newWhere) {
        return new ConfigEntry(section, key, newValue, newOrigin, newWhere, 0);
    }
}
