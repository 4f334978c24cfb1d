package com.example.cloudbridge.tcp;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** The plugin's own section of the node's configuration file, 'tcp'. */
@ObjectClassDefinition(name = "Sample TCP transport", description = "Relay sessions as length-prefixed frames over TLS")
public @interface TcpConfig {

    @AttributeDefinition(description = "Order among the transports: lower is tried first (QUIC 10, WebSocket 20)")
    int priority() default 30;
}
