package io.cloudbridge.boot.config;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The configuration as the operator gave it: file, environment and CLI merged by priority, before
 * any component's metatype has typed or checked it. Immutable.
 */
public final class ConfigSnapshot {
    private final Path file;
    private final Map<String, Map<String, ConfigEntry>> sections;
    private final List<ConfigEntry> fileEntries;

    ConfigSnapshot(Path file, Map<String, Map<String, ConfigEntry>> sections, List<ConfigEntry> fileEntries) {
        this.file = file;
        this.fileEntries = List.copyOf(fileEntries);
        Map<String, Map<String, ConfigEntry>> copy = new LinkedHashMap<>();
        sections.forEach((name, entries) -> copy.put(name, Collections.unmodifiableMap(new LinkedHashMap<>(entries))));
        this.sections = Collections.unmodifiableMap(copy);
    }

    public Path file() {
        return file;
    }

    public Map<String, Map<String, ConfigEntry>> sections() {
        return sections;
    }

    public Map<String, ConfigEntry> section(String name) {
        return sections.getOrDefault(name, Map.of());
    }

    /** The entry for a key in any of its spellings ({@link KeyNames#normalize}). */
    public Optional<ConfigEntry> find(String section, String key) {
        String wanted = KeyNames.normalize(key);
        return section(section).values().stream().filter(e -> KeyNames.normalize(e.key()).equals(wanted))
                .findFirst();
    }

    /** A string value, or the default when absent. */
    public String string(String section, String key, String defaultValue) {
        return find(section, key).map(ConfigEntry::value).map(String::valueOf).orElse(defaultValue);
    }

    /** A list value: a YAML sequence, or a comma-separated string from the environment or CLI. */
    public List<String> list(String section, String key, List<String> defaultValue) {
        return find(section, key).map(e -> ConfigValues.toStringList(e.value())).orElse(defaultValue);
    }

    /** Every entry as the file wrote it, before environment and CLI overrides. */
    public List<ConfigEntry> fileEntries() {
        return fileEntries;
    }

    /** The file's entries that are secrets by name and have a value. */
    public List<ConfigEntry> fileSecrets() {
        return fileEntries.stream()
                .filter(e -> KeyNames.isSecretName(e.key()) && e.value() != null && !String.valueOf(e.value()).isEmpty())
                .toList();
    }
}
