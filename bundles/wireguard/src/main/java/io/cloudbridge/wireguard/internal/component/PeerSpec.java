package io.cloudbridge.wireguard.internal.component;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.net.NodeKey;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * One {@code wireguard.peers} entry, parsed: {@code publicKey=… endpoint=… allowedIps=…
 * keepalive=…}. Addresses only, never names: a configuration must not wait on DNS.
 */
record PeerSpec(NodeKey publicKey, InetSocketAddress endpoint, List<IpPrefix> allowedIps, Duration keepalive) {

    static PeerSpec parse(String text) {
        NodeKey key = null;
        InetSocketAddress endpoint = null;
        List<IpPrefix> allowed = new ArrayList<>();
        Duration keepalive = null;
        for (String part : text.trim().split("\\s+")) {
            int eq = part.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("'" + part + "' is not key=value");
            }
            String k = part.substring(0, eq);
            String v = part.substring(eq + 1);
            switch (k) {
                case "publicKey" -> key = NodeKey.parse(v);
                case "endpoint" -> endpoint = endpoint(v);
                case "allowedIps" -> {
                    for (String p : v.split(",")) {
                        allowed.add(IpPrefix.parse(p));
                    }
                }
                case "keepalive" -> {
                    int s = Integer.parseInt(v);
                    if (s < 0 || s > 65535) {
                        throw new IllegalArgumentException("keepalive is 0..65535 seconds");
                    }
                    keepalive = s == 0 ? null : Duration.ofSeconds(s);
                }
                default -> throw new IllegalArgumentException("unknown peer field '" + k + "'");
            }
        }
        if (key == null) {
            throw new IllegalArgumentException("a peer needs publicKey=");
        }
        return new PeerSpec(key, endpoint, List.copyOf(allowed), keepalive);
    }

    private static InetSocketAddress endpoint(String text) {
        // The same grammar as the UAPI's endpoint key: one parser for both.
        return io.cloudbridge.wireguard.internal.device.UapiServer.endpoint(text);
    }
}
