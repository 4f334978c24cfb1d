package io.cloudbridge.boot.config;

import java.util.regex.Pattern;

/**
 * Secrets inside free text masked: a password in a JDBC or HTTP URL, a pre-auth key, a bearer token
 * or a JWT. Configuration values whose key names a secret are masked whole ({@link KeyNames});
 * this is for the values whose key does not (a database URL), and for text gathered to leave the
 * machine (a bug report), where a secret written by a library at debug level could otherwise travel.
 */
public final class SecretText {
    private static final Pattern PARAMETER = Pattern.compile("(?i)\\b(password|passwd|pwd|sslpassword|secret|access_token|refresh_token|token)=[^;&\\s\"',]+");
    private static final Pattern USER_INFO = Pattern.compile("(//[^/:@\\s]+):[^@/\\s]+@");
    private static final Pattern PRE_AUTH_KEY = Pattern.compile("(cbk_[0-9a-f]{12}_)[A-Za-z0-9_-]+");
    private static final Pattern BEARER = Pattern.compile("(?i)(bearer\\s+)[A-Za-z0-9._~+/=-]+");
    private static final Pattern JWT = Pattern.compile("eyJ[A-Za-z0-9_-]{4,}\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+");

    private SecretText() {
    }

    /** {@code text} with every secret it recognises replaced by {@code ***}. */
    public static String mask(String text) {
        if (text == null || text.isEmpty()) {
            return text;
        }
        String out = PARAMETER.matcher(text).replaceAll("$1=***");
        out = USER_INFO.matcher(out).replaceAll("$1:***@");
        out = PRE_AUTH_KEY.matcher(out).replaceAll("$1***");
        out = BEARER.matcher(out).replaceAll("$1***");
        return JWT.matcher(out).replaceAll("eyJ***");
    }
}
