package io.cloudbridge.relay.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/**
 * The 'forwarding' section: the relay data plane's limits. 0 means no limit. The defaults are set
 * against the QUIC relay's measured forwarding capacity on a 2-core machine (docs/performance.md,
 * "Relay data plane": 376,000 packets/s at 100 bytes, 1,066 Mbit/s at 1,452 bytes, in the lowest of
 * three runs); docs/operations.md says how to set them for another machine.
 */
@ObjectClassDefinition(name = "Relay forwarding", description = "Limits of the relay's packet switch")
public @interface ForwardingConfig {

    @AttributeDefinition(description = "Packets per second one node may send through the relay (bursts of one second's worth)")
    int nodePacketsPerSecond() default 100_000;

    @AttributeDefinition(description = "Bytes per second one node may send through the relay")
    long nodeBytesPerSecond() default 50_000_000L;

    @AttributeDefinition(description = "Packets per second all the nodes of one tenant together may send through the relay, "
            + "shared fairly among them")
    int tenantPacketsPerSecond() default 250_000;

    @AttributeDefinition(description = "Bytes per second all the nodes of one tenant together may send through the relay, "
            + "shared fairly among them")
    long tenantBytesPerSecond() default 100_000_000L;

    @AttributeDefinition(description = "Packets per second the relay forwards for all tenants together, shared fairly among "
            + "the tenants that send (two thirds of what a 2-core machine measured)")
    int capacityPacketsPerSecond() default 250_000;

    @AttributeDefinition(description = "Bytes per second the relay forwards for all tenants together, shared fairly among "
            + "the tenants that send")
    long capacityBytesPerSecond() default 100_000_000L;
}
