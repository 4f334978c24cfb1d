package io.cloudbridge.shell.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** The {@code shell} section. */
@ObjectClassDefinition(name = "Admin shell",
        description = "The Gogo shell served on a local Unix domain socket, readable by the daemon's user only.")
public @interface ShellConfig {

    @AttributeDefinition(description = "The socket file, relative to the distribution; empty for STATE/admin.sock.",
            required = false)
    String socket() default "";

    @AttributeDefinition(min = "1", max = "64", description = "Sessions served at once; more are refused with a reason.")
    int maxSessions() default 8;

    @AttributeDefinition(min = "1", max = "86400", description = "A session idle this many seconds is closed.")
    int idleTimeoutSeconds() default 900;
}
