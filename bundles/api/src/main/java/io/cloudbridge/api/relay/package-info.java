/**
 * The relay's data plane: transport sessions of authenticated nodes attached to a packet switch
 * that forwards encrypted overlay packets between the nodes of one tenant, by WireGuard key. The
 * relay never decrypts them. Transport plugins (WebSocket, QUIC) authenticate a session with
 * {@link io.cloudbridge.api.relay.NodeSessionAuthenticator} and attach it to the
 * {@link io.cloudbridge.api.relay.PacketSwitch}, and bind it to its credential with
 * {@link io.cloudbridge.api.relay.CredentialRevocations}, so that it ends when the credential does.
 */
@Export
@Version("1.5.0")
package io.cloudbridge.api.relay;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
