package io.cloudbridge.api.runtime;

/**
 * What the admin shell tells the commands it runs about who runs them, as attributes of the Gogo
 * session (a command takes the session as its first parameter).
 *
 * @since 1.2
 */
public final class AdminSession {
    /** The session attribute with the admin socket peer's user (from the kernel: SO_PEERCRED), e.g. {@code root}. */
    public static final String USER = "cloudbridge.admin.user";

    private AdminSession() {
    }

    /** The user a session's attribute names; "unknown" when the session has none (a command run in-process). */
    public static String user(Object attribute) {
        return attribute instanceof String s && !s.isEmpty() ? s : "unknown";
    }
}
