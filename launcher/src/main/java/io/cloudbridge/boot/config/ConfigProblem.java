package io.cloudbridge.boot.config;

/**
 * One reason a configuration is refused.
 *
 * @param where   {@code file:line}, an environment variable or a CLI flag
 * @param section the section, or {@code null} when the problem is not inside one
 * @param key     the key, or {@code null}
 * @param reason  what is wrong, in words an operator can act on
 */
public record ConfigProblem(String where, String section, String key, String reason) {

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(where);
        if (section != null) {
            sb.append(": ").append(section);
            if (key != null) {
                sb.append('.').append(key);
            }
        }
        return sb.append(": ").append(reason).toString();
    }
}
