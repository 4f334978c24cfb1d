package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.tun.internal.LinuxTun;
import java.io.IOException;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A TUN device set up for an engine, and the thread that carries what the kernel routes into it to the engine. */
public final class TunPump {
    private static final Logger LOG = LoggerFactory.getLogger(TunPump.class);

    private TunPump() {
    }

    /** Opens the device, sets its MTU and addresses (with prefix), brings it up and routes the prefixes into it. */
    public static LinuxTun open(String name, int mtu, List<String> addresses, List<IpPrefix> routes) throws IOException {
        LinuxTun tun = LinuxTun.open(name);
        try {
            tun.setMtu(mtu);
            for (String a : addresses) {
                tun.addAddress(a);
            }
            tun.up();
            for (IpPrefix r : routes) {
                tun.addRoute(r.toString());
            }
            return tun;
        } catch (IOException | RuntimeException e) {
            tun.close();
            throw e;
        }
    }

    /** Starts a daemon thread that reads the device and sends each packet through the engine, until the device closes. */
    public static Thread start(LinuxTun tun, WireGuardDevice device) {
        Thread reader = new Thread(() -> {
            byte[] buf = new byte[65_535];
            try {
                int n;
                while ((n = tun.read(buf)) >= 0) {
                    try {
                        device.send(buf, n);
                    } catch (RuntimeException e) {
                        // One packet's failure (a path plugin's bug, say) must not stop all outbound traffic.
                        LOG.warn("sending a packet failed: {}", e.toString());
                    }
                }
            } catch (IOException e) {
                LOG.warn("TUN read stopped: {}", e.toString());
            }
        }, "wireguard-tun-" + tun.name());
        reader.setDaemon(true);
        reader.start();
        return reader;
    }
}
