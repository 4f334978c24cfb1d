package io.cloudbridge.credentials.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.osgi.service.metatype.annotations.Option;

/** The {@code credentials} section: where this node keeps its secrets. */
@ObjectClassDefinition(name = "Credentials", description = "Where the node's secrets are kept: the OS keyring or"
        + " owner-only files.")
public @interface CredentialsConfig {
    @AttributeDefinition(description = "'auto': the OS keyring when it answers a probe at start, else files;"
            + " 'keyring': the OS keyring or nothing (the store fails to start); 'file': files only.", options = {
                @Option(value = "auto", label = "the OS keyring, else files"),
                @Option(value = "keyring", label = "the OS keyring only"),
                @Option(value = "file", label = "owner-only files only")})
    String store() default "auto";

    @AttributeDefinition(description = "The folder of the file store (mode 0700, one 0600 file an entry);"
            + " empty: <state folder>/credentials.", required = false)
    String fileFolder() default "";
}
