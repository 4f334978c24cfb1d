package io.cloudbridge.mesh.internal;

import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.util.Collections;
import java.util.HashSet;
import java.util.Set;

/**
 * The node's own addresses, its ways out to the relay: the path layer compares them from one look
 * to the next, and a change (another network, a new lease) has it dial its relay sessions afresh.
 */
final class LocalAddresses {
    private LocalAddresses() {
    }

    /**
     * The addresses of the interfaces that are up, but for loopback, link-local addresses and the
     * overlay's own interface (its addresses are the overlay's, not the node's way out).
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
