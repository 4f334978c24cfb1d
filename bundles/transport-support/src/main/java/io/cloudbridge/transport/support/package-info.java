/**
 * Building blocks for relay transports, on Netty: {@link io.cloudbridge.transport.support.RelaySession}
 * (a node's session that keeps itself connected) and {@link io.cloudbridge.transport.support.Outbox}
 * (packets from any thread, written in bursts on the connection's event loop, bounded),
 * {@link io.cloudbridge.transport.support.ChannelLoops} (work for a loop that may be gone),
 * {@link io.cloudbridge.transport.support.SocketBuffers} (deep UDP socket buffers for the data path) and
 * {@link io.cloudbridge.transport.support.RetryAfter} (a relay's "come back in N seconds").
 */
@Export
@Version("1.4.0")
package io.cloudbridge.transport.support;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
