package io.cloudbridge.tun.internal;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.net.PacketBatch;
import io.cloudbridge.api.tun.TunDevice;
import java.io.IOException;
import java.util.concurrent.atomic.LongAdder;

/**
 * An open {@link LinuxTun} in batches: reads split offloaded bursts into segments
 * ({@link SegmentationOffload}); with offload, each writing thread joins its batch's TCP segments
 * into large frames ({@link ReceiveCoalescer}) and writes them at the batch's end, and without,
 * each packet is written as it comes.
 */
final class LinuxTunDevice implements TunDevice {
    private final LinuxTun tun;
    /** The reader's frame: one thread reads. */
    private final byte[] frame = new byte[LinuxTun.MAX_FRAME];
    /*
     * One coalescer per writing thread (the engine's receive thread, relay transports' threads),
     * each gone with its thread; the counters are shared.
     */
    private final ThreadLocal<ReceiveCoalescer> coalescers;
    private final LongAdder framesWritten = new LongAdder();
    private final LongAdder packetsWritten = new LongAdder();
    private final LongAdder refused = new LongAdder();

    LinuxTunDevice(LinuxTun tun) {
        this.tun = tun;
        this.coalescers = ThreadLocal.withInitial(() -> new ReceiveCoalescer(tun::write, framesWritten, packetsWritten));
    }

    @Override
    public String name() {
        return tun.name();
    }

    @Override
    public boolean offload() {
        return tun.offload();
    }

    @Override
    public int read(PacketBatch batch, Runnable drain) throws IOException {
        int n = tun.read(frame);
        if (n < 0) {
            return -1;
        }
        if (!tun.offload()) {
            batch.add(frame, 0, n);
            return 1;
        }
        try {
            SegmentationOffload.split(frame, n, batch, drain);
            return 1;
        } catch (SegmentationOffload.MalformedFrameException e) {
            refused.increment();
            return 0;
        }
    }

    @Override
    public void write(byte[] packet, int length) throws IOException {
        if (tun.offload()) {
            coalescers.get().add(packet, length);
        } else {
            tun.write(packet, length);
        }
    }

    @Override
    public void flush() throws IOException {
        if (tun.offload()) {
            coalescers.get().flush();
        }
    }

    @Override
    public void setMtu(int mtu) throws IOException {
        tun.setMtu(mtu);
    }

    @Override
    public void addAddress(String cidr) throws IOException {
        tun.addAddress(cidr);
    }

    @Override
    public void removeAddress(String cidr) throws IOException {
        tun.removeAddress(cidr);
    }

    @Override
    public void addRoute(IpPrefix prefix) throws IOException {
        tun.addRoute(prefix.toString());
    }

    @Override
    public void removeRoute(IpPrefix prefix) throws IOException {
        tun.removeRoute(prefix.toString());
    }

    @Override
    public long refusedFrames() {
        return refused.sum();
    }

    @Override
    public long framesWritten() {
        return framesWritten.sum();
    }

    @Override
    public long packetsWritten() {
        return packetsWritten.sum();
    }

    @Override
    public void close() {
        tun.close();
    }
}
