package io.cloudbridge.kernel.internal.logging;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;
import org.osgi.service.metatype.annotations.Option;

/** The {@code logging} section. */
@ObjectClassDefinition(name = "Logging",
        description = "JSON log lines to standard output and, optionally, a rotating file.")
public @interface LoggingConfig {

    @AttributeDefinition(description = "The root level.", options = {
        @Option(value = "trace"), @Option(value = "debug"), @Option(value = "info"), @Option(value = "warn"),
        @Option(value = "error"), @Option(value = "off")})
    String level() default "info";

    @AttributeDefinition(description = "Levels for loggers or bundles, each 'name=level', e.g."
            + " 'org.apache.felix.scr=warn'.", required = false)
    String[] loggers() default {};

    @AttributeDefinition(description = "Write to standard output.")
    boolean stdout() default true;

    @AttributeDefinition(description = "A log file, relative to the distribution; empty for none.", required = false)
    String file() default "";

    @AttributeDefinition(min = "1", max = "1024", description = "Rotate the file at this size, in MiB.")
    int maxFileMegabytes() default 10;

    @AttributeDefinition(min = "1", max = "100", description = "Rotated files kept.")
    int maxFiles() default 5;
}
