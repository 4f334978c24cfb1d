package io.cloudbridge.api.tun;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.net.PacketBatch;
import java.io.IOException;
import org.osgi.annotation.versioning.ProviderType;

/**
 * An open TUN device. One thread reads it; any number write to it, each in batches that end with
 * {@link #flush()}. Closing it removes the interface and its routes.
 */
@ProviderType
public interface TunDevice extends AutoCloseable {

    String name();

    /**
     * Whether the kernel granted segmentation offload: reads then split a TCP burst of up to
     * 64 KiB into its segments, and writes join a batch's segments into such bursts.
     */
    boolean offload();

    /**
     * Waits until the kernel routes something into the device and adds it to {@code batch}: one
     * packet, or with offload every segment of one burst, calling {@code drain} (which empties
     * the batch) whenever the batch fills up first. What is left is the caller's to send.
     *
     * @return 1 for a frame read, 0 for a frame refused as malformed (which {@link #refusedFrames()}
     *         counts), or -1 once the device is closed
     */
    int read(PacketBatch batch, Runnable drain) throws IOException;

    /**
     * Writes one packet toward the kernel. With offload, TCP segments of one flow are held back to
     * be joined until the calling thread's {@link #flush()}; the array is the caller's again when
     * this returns.
     */
    void write(byte[] packet, int length) throws IOException;

    /** The end of the calling thread's batch: writes whatever {@link #write} held back. */
    void flush() throws IOException;

    void setMtu(int mtu) throws IOException;

    /**
     * Gives the device another address, such as {@code 100.64.0.2/18} or {@code fd00::2/64}, as
     * {@link TunDevices#open} does: a node's new lease without closing the device (and every session
     * through it).
     */
    void addAddress(String cidr) throws IOException;

    /** Takes an address given at open or by {@link #addAddress} off the device. */
    void removeAddress(String cidr) throws IOException;

    /** Routes a prefix (a peer's allowed IPs) into the device. */
    void addRoute(IpPrefix prefix) throws IOException;

    /** Removes a route this device carried (a peer left). */
    void removeRoute(IpPrefix prefix) throws IOException;

    /** Frames read but refused as malformed (a burst that cannot be split). */
    long refusedFrames();

    /** Frames written with offload so far. */
    long framesWritten();

    /** Packets those frames carried: more than the frames when segments were joined. */
    long packetsWritten();

    @Override
    void close();
}
