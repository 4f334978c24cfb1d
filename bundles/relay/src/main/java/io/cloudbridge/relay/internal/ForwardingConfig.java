package io.cloudbridge.relay.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** The 'forwarding' section: the relay data plane's limits. 0 means no limit. */
@ObjectClassDefinition(name = "Relay forwarding", description = "Limits of the relay's packet switch")
public @interface ForwardingConfig {

    @AttributeDefinition(description = "Packets per second one node may send through the relay (bursts of one second's worth)")
    int nodePacketsPerSecond() default 100_000;

    @AttributeDefinition(description = "Bytes per second one node may send through the relay")
    long nodeBytesPerSecond() default 125_000_000L;

    @AttributeDefinition(description = "Packets per second all the nodes of one tenant together may send through the relay")
    int tenantPacketsPerSecond() default 400_000;

    @AttributeDefinition(description = "Bytes per second all the nodes of one tenant together may send through the relay")
    long tenantBytesPerSecond() default 500_000_000L;
}
