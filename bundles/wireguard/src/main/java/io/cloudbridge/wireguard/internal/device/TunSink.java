package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.tun.internal.LinuxTun;
import io.cloudbridge.tun.internal.ReceiveCoalescer;
import java.io.IOException;

/**
 * Writes decrypted packets to a TUN device. With offload, each delivering thread joins its batch's
 * TCP segments into large frames ({@link ReceiveCoalescer}) and writes them at the batch's end;
 * without, each packet is written as it comes.
 */
public final class TunSink {
    private final LinuxTun tun;
    private final ThreadLocal<ReceiveCoalescer> coalescers;
    private final java.util.List<ReceiveCoalescer> all = new java.util.concurrent.CopyOnWriteArrayList<>();

    public TunSink(LinuxTun tun) {
        this.tun = tun;
        this.coalescers = ThreadLocal.withInitial(() -> {
            ReceiveCoalescer c = new ReceiveCoalescer(tun::write);
            all.add(c);
            return c;
        });
    }

    /** Frames written through offload so far (approximate while writing goes on). */
    public long framesWritten() {
        return all.stream().mapToLong(ReceiveCoalescer::framesWritten).sum();
    }

    /** Packets those frames carried: more than the frames when segments were joined. */
    public long packetsWritten() {
        return all.stream().mapToLong(ReceiveCoalescer::segmentsWritten).sum();
    }

    public void deliver(byte[] packet, int length) throws IOException {
        if (tun.offload()) {
            coalescers.get().add(packet, length);
        } else {
            tun.write(packet, length);
        }
    }

    /** The end of the calling thread's batch. */
    public void flush() throws IOException {
        if (tun.offload()) {
            coalescers.get().flush();
        }
    }
}
