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
    /*
     * One coalescer per delivering thread (the receive thread, relay transports' threads), each
     * gone with its thread; the counters are shared.
     */
    private final ThreadLocal<ReceiveCoalescer> coalescers;
    private final java.util.concurrent.atomic.LongAdder frames = new java.util.concurrent.atomic.LongAdder();
    private final java.util.concurrent.atomic.LongAdder packets = new java.util.concurrent.atomic.LongAdder();

    public TunSink(LinuxTun tun) {
        this.tun = tun;
        this.coalescers = ThreadLocal.withInitial(() -> new ReceiveCoalescer(tun::write, frames, packets));
    }

    /** Frames written through offload so far. */
    public long framesWritten() {
        return frames.sum();
    }

    /** Packets those frames carried: more than the frames when segments were joined. */
    public long packetsWritten() {
        return packets.sum();
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
