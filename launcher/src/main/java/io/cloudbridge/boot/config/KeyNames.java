package io.cloudbridge.boot.config;

import java.util.Locale;
import java.util.regex.Pattern;

/** Key spelling and the rule that tells a secret from an ordinary value. */
public final class KeyNames {
    /**
     * Keys whose values are secrets by their name alone. Components can also mark an attribute a
     * secret with the metatype PASSWORD type; the kernel applies both.
     */
    private static final Pattern SECRET_NAME = Pattern.compile(
            "(?i).*(secret|password|passphrase|token|privatekey|preauthkey|credential|apikey).*");

    private KeyNames() {
    }

    /**
     * The form keys are matched in: lower case without separators, so that the variable
     * {@code CLOUDBRIDGE_METRICS_BIND_ADDRESS} and the flag {@code --set metrics.bind-address=…}
     * both reach the attribute {@code bindAddress}.
     */
    public static String normalize(String key) {
        return key.replace("_", "").replace("-", "").replace(".", "").toLowerCase(Locale.ROOT);
    }

    public static boolean isSecretName(String key) {
        return SECRET_NAME.matcher(normalize(key)).matches();
    }

    public static boolean isValidSection(String section) {
        return section.matches("[a-z][a-z0-9]*");
    }

    public static String pid(String section) {
        return "cloudbridge." + section;
    }
}
