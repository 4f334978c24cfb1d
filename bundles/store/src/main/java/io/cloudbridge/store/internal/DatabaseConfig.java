package io.cloudbridge.store.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** The {@code database} section: where the relay keeps its state. */
@ObjectClassDefinition(name = "Database", description = "The relay's SQL database.")
public @interface DatabaseConfig {
    @AttributeDefinition(description = "A JDBC URL; empty for the embedded H2 database in the state folder"
            + " (state/relay/relay.mv.db); jdbc:postgresql://HOST[:PORT][,HOST2...]/DATABASE for a PostgreSQL server.",
            required = false)
    String url() default "";

    @AttributeDefinition(description = "The database user.", required = false)
    String user() default "";

    @AttributeDefinition(description = "A file holding the database password (owner-only), for servers that need one.",
            required = false)
    String passwordFile() default "";

    @AttributeDefinition(description = "A file holding the fleet key (32 random bytes in Base64, owner-only) that seals"
            + " the secrets kept in the database (token-signing keys); required with a database server, optional with the"
            + " embedded database.", required = false)
    String fleetKeyFile() default "";

    @AttributeDefinition(min = "1", max = "256", description = "Connections kept open at most.")
    int maxConnections() default 16;
}
