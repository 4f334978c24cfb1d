package io.cloudbridge.paths.internal;

import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.Collections;
import java.util.HashSet;
import java.util.Set;
import java.util.function.BiConsumer;

/**
 * The node's one watch on its own addresses, its ways out: the paths look a few times a second,
 * and a change (another network, a new lease) has the relay sessions dialled afresh; hole punching
 * reads the same view for its host candidates instead of listing the interfaces itself.
 */
final class NetworkMonitor {
    private final BiConsumer<Set<InetAddress>, Set<InetAddress>> onChange;
    private volatile String overlayInterface;
    private volatile Set<InetAddress> current = Set.of();
    private boolean seen;

    /** @param onChange told (before, after) on the looking thread when the addresses changed */
    NetworkMonitor(BiConsumer<Set<InetAddress>, Set<InetAddress>> onChange) {
        this.onChange = onChange;
    }

    /**
     * The overlay's own interface, whose addresses are the overlay's, not the node's way out. The
     * next look is a new baseline, not a change: leaving the interface out changes nothing outside.
     */
    synchronized void excludeInterface(String name) {
        if (!java.util.Objects.equals(name, overlayInterface)) {
            overlayInterface = name;
            seen = false;
        }
    }

    /** The addresses at the last look. */
    Set<InetAddress> current() {
        return current;
    }

    /** Looks again. */
    synchronized void look() {
        Set<InetAddress> now = read(overlayInterface);
        if (now == null) {
            return;
        }
        Set<InetAddress> before = current;
        current = Set.copyOf(now);
        boolean first = !seen;
        seen = true;
        if (!first && !before.equals(now)) {
            onChange.accept(before, current);
        }
    }

    /**
     * The addresses of the interfaces that are up, but for loopback, link-local addresses and the
     * overlay's own interface.
     *
     * @param overlayName the overlay interface's name, null when there is none
     * @return the addresses, or null when the interfaces cannot be read now
     */
    static Set<InetAddress> read(String overlayName) {
        Set<InetAddress> now = new HashSet<>();
        try {
            for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                if (nic.isUp() && !nic.isLoopback() && !nic.getName().equals(overlayName)) {
                    for (InetAddress a : Collections.list(nic.getInetAddresses())) {
                        if (!a.isLinkLocalAddress()) {
                            now.add(a);
                        }
                    }
                }
            }
        } catch (SocketException e) {
            return null;
        }
        return now;
    }
}
