package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.api.net.PacketBatch;
import io.cloudbridge.api.tun.TunDevice;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The thread that carries what the kernel routes into a TUN device to the engine. */
public final class TunPump {
    private static final Logger LOG = LoggerFactory.getLogger(TunPump.class);

    private TunPump() {
    }

    /** Packets the reader hands the engine at once (a 64 KiB TCP burst at the smallest common segment size). */
    static final int SEND_BATCH = 128;

    /**
     * Starts a daemon thread that reads the device and sends what it reads through the engine, a
     * frame's packets as one batch, until the device closes.
     */
    public static Thread start(TunDevice tun, WireGuardDevice device) {
        Thread reader = new Thread(() -> {
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
                int read;
                while ((read = tun.read(batch, drain)) >= 0) {
                    if (read == 0) {
                        device.drop("unsplittable TUN frame");
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
