package io.cloudbridge.wireguard.internal.component;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** The {@code wireguard} section: this node's interface and its static peers. */
@ObjectClassDefinition(name = "WireGuard", description = "The userspace WireGuard engine and its interface.")
public @interface WireGuardConfig {

    @AttributeDefinition(description = "Interface name (also the UAPI socket's name); unique per host.")
    String interfaceName() default "cb0";

    @AttributeDefinition(description = "The private key file (Base64), relative to the distribution; created"
            + " owner-only when missing. Empty: wireguard.key in the daemon's state folder (or the OS keyring).")
    String privateKeyFile() default "";

    @AttributeDefinition(description = "The address the UDP socket binds to.")
    String listenAddress() default "0.0.0.0";

    @AttributeDefinition(min = "0", max = "65535", description = "The UDP port; 0 for any free port.")
    int listenPort() default 51820;

    @AttributeDefinition(description = "This node's overlay addresses with prefix, e.g. 10.77.0.1/24.", required = false)
    String[] addresses() default {};

    @AttributeDefinition(min = "0", max = "9000", description = "The interface MTU; 0 derives it from the path:"
            + " the MTU of the interface the peers' endpoints (or the default route) go through, less the 80 bytes"
            + " WireGuard over IPv6 adds, and never below 1280.")
    int mtu() default 0;

    @AttributeDefinition(description = "Let the kernel hand over TCP bursts of up to 64 KiB as one frame each way"
            + " (TUN segmentation and receive offload); off reads and writes packet by packet.")
    boolean offload() default true;

    @AttributeDefinition(min = "0", max = "256", description = "Threads that encrypt and decrypt each batch, the"
            + " I/O thread included; 0 for one per two cores.")
    int cryptoThreads() default 0;

    @AttributeDefinition(description = "No TUN device and no root: the engine keeps its sessions and answers"
            + " pings to its own addresses in userspace.")
    boolean userspace() default false;

    @AttributeDefinition(description = "Peers, one per entry: 'publicKey=BASE64 endpoint=HOST:PORT"
            + " allowedIps=CIDR[,CIDR] keepalive=SECONDS' (endpoint and keepalive optional).", required = false)
    String[] peers() default {};

    @AttributeDefinition(min = "0", max = "3600", description = "Seconds between the link probes each peer with a"
            + " session gets through the tunnel (its RTT, jitter and loss on the path in use); 0: none.")
    int probeIntervalSeconds() default 5;

    @AttributeDefinition(min = "0", description = "At most this many peers get per-peer metrics series (12 each);"
            + " the others are only counted, so that a large tenant cannot blow up the metrics' size.")
    int peerMetricsLimit() default 100;

    @AttributeDefinition(description = "Where the UAPI socket goes, for the stock wg tool; empty for none.",
            required = false)
    String uapiDirectory() default "/var/run/wireguard";
}
