package io.cloudbridge.api.tunnel;

import java.net.InetSocketAddress;

/**
 * A tunnel the node holds open.
 *
 * @param id            its id for {@code tunnel:close}
 * @param kind          {@code connect-udp} or {@code connect-ip}
 * @param local         the local listener, if any
 * @param target        the target as the proxy was asked for it, e.g. {@code example.net:53}
 * @param state         {@code opening}, {@code open}, {@code closed}
 * @param bytesSent     payload bytes sent through it
 * @param bytesReceived payload bytes received through it
 */
public record TunnelInfo(String id, String kind, InetSocketAddress local, String target, String state,
        long bytesSent, long bytesReceived) {
}
