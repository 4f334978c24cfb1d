package io.cloudbridge.boot.config;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Conversions between the shapes a value can arrive in. */
public final class ConfigValues {
    private ConfigValues() {
    }

    /** A list from a YAML sequence, or from a comma-separated string (environment, CLI). */
    public static List<String> toStringList(Object value) {
        if (value == null) {
            return List.of();
        }
        if (value instanceof List<?> list) {
            List<String> out = new ArrayList<>(list.size());
            list.forEach(v -> out.add(String.valueOf(v)));
            return out;
        }
        String text = String.valueOf(value).trim();
        if (text.isEmpty()) {
            return List.of();
        }
        return Arrays.stream(text.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
    }
}
