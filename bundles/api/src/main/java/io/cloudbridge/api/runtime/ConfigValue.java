package io.cloudbridge.api.runtime;

/**
 * One effective configuration value, as {@code cb:config} shows it.
 *
 * @param section the YAML section (PID {@code cloudbridge.<section>})
 * @param key     the attribute name
 * @param value   the value as text; {@code ***} for a secret
 * @param origin  {@code cli}, {@code env}, {@code file} or {@code default}
 * @param where   the file and line, variable or flag it came from; empty for a default
 * @param secret  whether the value is a secret (masked)
 */
public record ConfigValue(String section, String key, String value, String origin, String where, boolean secret) {
}
