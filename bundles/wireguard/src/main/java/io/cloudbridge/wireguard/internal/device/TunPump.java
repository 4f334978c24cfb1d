package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.tun.internal.LinuxTun;
import io.cloudbridge.tun.internal.PacketBatch;
import io.cloudbridge.tun.internal.SegmentationOffload;
import java.io.IOException;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A TUN device set up for an engine, and the thread that carries what the kernel routes into it to the engine. */
public final class TunPump {
    private static final Logger LOG = LoggerFactory.getLogger(TunPump.class);

    private TunPump() {
    }

    /** Packets the reader hands the engine at once (a 64 KiB TCP burst at the smallest common segment size). */
    static final int SEND_BATCH = 128;

    /**
     * Opens the device (with segmentation offload when asked and the kernel grants it), sets its MTU
     * and addresses (with prefix), brings it up and routes the prefixes into it.
     */
    public static LinuxTun open(String name, int mtu, List<String> addresses, List<IpPrefix> routes, boolean offload)
            throws IOException {
        LinuxTun tun = LinuxTun.open(name, offload);
        if (offload && !tun.offload()) {
            LOG.info("TUN device {}: the kernel refused segmentation offload; packets are read one by one", name);
        }
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

    /**
     * Starts a daemon thread that reads the device and sends what it reads through the engine, a
     * frame's packets as one batch, until the device closes.
     */
    public static Thread start(LinuxTun tun, WireGuardDevice device) {
        Thread reader = new Thread(() -> {
            byte[] frame = new byte[LinuxTun.MAX_FRAME];
            PacketBatch batch = new PacketBatch(SEND_BATCH, 2048);
            try (Outbound.BatchSender sender = device.newBatchSender(SEND_BATCH)) {
                Runnable drain = () -> {
                    try {
                        sender.send(batch);
                    } catch (RuntimeException e) {
                        // One batch's failure (a path plugin's bug, say) must not stop all outbound traffic.
                        LOG.warn("sending packets failed: {}", e.toString());
                    }
                    batch.clear();
                };
                int n;
                while ((n = tun.read(frame)) >= 0) {
                    if (tun.offload()) {
                        try {
                            SegmentationOffload.split(frame, n, batch, drain);
                        } catch (SegmentationOffload.MalformedFrameException e) {
                            device.drop("unsplittable TUN frame");
                            LOG.debug("TUN frame refused: {}", e.getMessage());
                        }
                    } else {
                        batch.add(frame, 0, n);
                    }
                    drain.run();
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
