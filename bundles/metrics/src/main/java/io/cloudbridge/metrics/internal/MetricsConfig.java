package io.cloudbridge.metrics.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** The {@code metrics} section. */
@ObjectClassDefinition(name = "Metrics",
        description = "The Prometheus endpoint (/metrics) and the health endpoint (/health).")
public @interface MetricsConfig {

    @AttributeDefinition(description = "Serve the endpoints.")
    boolean enabled() default false;

    @AttributeDefinition(description = "The address to listen on; keep it local unless a firewall guards it.")
    String bindAddress() default "127.0.0.1";

    @AttributeDefinition(min = "1", max = "65535", description = "The TCP port.")
    int port() default 9464;
}
