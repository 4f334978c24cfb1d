package io.cloudbridge.boot.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Fuzz targets for the operator's configuration: the YAML file and the {@code --set} overrides.
 * Whatever is written, the loader returns sections of well-formed entries or refuses with
 * {@link ConfigException} naming where; nothing else may escape (a daemon that dies on a bad edit
 * loses its last good configuration).
 */
class ConfigFuzzTest {

    @FuzzTest
    void yamlFile(byte[] data) {
        String text = new String(data, StandardCharsets.UTF_8);
        Map<String, Map<String, ConfigEntry>> sections;
        try {
            sections = ConfigLoader.parse("cloudbridge.yaml", text);
        } catch (ConfigException e) {
            assertFalse(e.problems().isEmpty(), "a refusal names at least one problem");
            e.problems().forEach(p -> assertTrue(p.where().startsWith("cloudbridge.yaml"), p.where()));
            return;
        }
        sections.forEach((section, entries) -> {
            assertTrue(KeyNames.isValidSection(section), section);
            entries.forEach((key, entry) -> {
                assertEquals(section, entry.section());
                assertEquals(key, entry.key());
                assertTrue(entry.value() == null || entry.value() instanceof String || entry.value() instanceof List<?>);
                assertTrue(entry.line() > 0, "a value from the file has its line");
            });
        });
    }

    @FuzzTest
    void overrides(byte[] data) {
        // Lines: --set overrides, then (after an empty line) environment variables NAME=value.
        List<String> lines = Arrays.asList(new String(data, StandardCharsets.UTF_8).split("\n", -1));
        int gap = lines.indexOf("");
        List<String> cli = gap < 0 ? lines : lines.subList(0, gap);
        Map<String, String> env = new java.util.TreeMap<>();
        if (gap >= 0) {
            for (String e : lines.subList(gap + 1, lines.size())) {
                int eq = e.indexOf('=');
                if (eq > 0) {
                    env.put(e.substring(0, eq), e.substring(eq + 1));
                }
            }
        }
        try {
            ConfigSnapshot snapshot = ConfigLoader.load(null, env, cli);
            assertNotNull(snapshot);
        } catch (ConfigException e) {
            assertFalse(e.problems().isEmpty());
            e.problems().forEach(p -> assertNotNull(p.where()));
        }
    }
}
