package io.cloudbridge.ice.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** The 'ice' section: NAT traversal. */
@ObjectClassDefinition(name = "NAT traversal", description = "How the node finds out what its UDP looks like from outside")
public @interface IceConfig {

    @AttributeDefinition(description = "STUN servers, host:port; empty: the home relay's host at stunPort", required = false)
    String[] stunServers() default {};

    @AttributeDefinition(description = "The relay's STUN port, used when stunServers is empty")
    int stunPort() default 3478;
}
