package io.cloudbridge.kernel.internal.feature;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** The {@code kernel} section. */
@ObjectClassDefinition(name = "Kernel",
        description = "The features to run and where the runtime keeps its state.")
public @interface KernelConfig {

    @AttributeDefinition(description = "Features installed at start, besides the base features. An edit at run"
            + " time installs and uninstalls the difference.")
    String[] features() default {"core", "shell"};

    @AttributeDefinition(description = "The state folder (framework cache, feature changes, admin socket),"
            + " relative to the distribution; read at start only.")
    String state() default "state";

    @AttributeDefinition(description = "The deploy folder, where vendor bundles are dropped, relative to the"
            + " distribution; read at start only. Several daemons of one installation each need their own.")
    String deploy() default "deploy";

    @AttributeDefinition(min = "100", max = "60000", description = "How often, in milliseconds, the deploy"
            + " folder is scanned for vendor bundles; read at start only.")
    long deployPollMillis() default 1000;
}
