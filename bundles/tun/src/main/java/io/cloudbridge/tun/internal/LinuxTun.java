package io.cloudbridge.tun.internal;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A Linux TUN interface ({@code IFF_TUN | IFF_NO_PI}: whole IP packets), opened through
 * {@code /dev/net/tun} with JNA direct mapping. Opened with offload, every frame also starts with a
 * virtio-net header and the kernel may hand over (and take) TCP bursts of up to 64 KiB as one frame:
 * {@link SegmentationOffload} and {@link ReceiveCoalescer} translate. The interface exists while the file
 * descriptor is open: closing it, or the process dying, removes the interface and its routes.
 * Addresses, MTU and routes are set with iproute2.
 */
public final class LinuxTun implements AutoCloseable {
    private static final int O_RDWR = 2;
    /** Reads return EAGAIN instead of blocking: read first, poll only when there is nothing. */
    private static final int O_NONBLOCK = 0x800;
    private static final int EAGAIN = 11;
    private static final int IFF_TUN = 0x0001;
    private static final int IFF_NO_PI = 0x1000;
    private static final int IFF_VNET_HDR = 0x4000;
    /** _IOW('T', 208, unsigned int); its argument is the flag word itself, not a pointer. */
    private static final long TUNSETOFFLOAD = 0x400454d0L;
    private static final int TUN_F_CSUM = 0x01;
    private static final int TUN_F_TSO4 = 0x02;
    private static final int TUN_F_TSO6 = 0x04;
    /** The largest frame: a 64 KiB packet behind the virtio-net header. */
    public static final int MAX_FRAME = 65_535 + SegmentationOffload.VIRTIO_HEADER_LENGTH;
    /** _IOW('T', 202, int) */
    private static final long TUNSETIFF = 0x400454caL;
    private static final int IFNAMSIZ = 16;

    /** libc, mapped directly: one native call per read or write, no reflection. Bound by {@link LibcBinding}. */
    static final class LibC {

        static native int open(String path, int flags) throws LastErrorException;

        static native int ioctl(int fd, long request, byte[] ifreq) throws LastErrorException;

        static native int close(int fd) throws LastErrorException;

        static native long write(int fd, Pointer buffer, long count) throws LastErrorException;

        static native int poll(byte[] fds, long nfds, int timeoutMillis) throws LastErrorException;

        private LibC() {
        }
    }

    /**
     * The calls whose arguments or result are a C {@code long} or {@code size_t} ({@code ioctl}'s
     * request, {@code read}'s and {@code write}'s count and result, {@code poll}'s count), as a
     * 32-bit libc takes them: a Java {@code long} there is two stack words, which shifts every
     * argument after it ({@code TUNSETIFF} failed with EFAULT on i386). Bound only where
     * {@link #LONG_IS_32_BITS}.
     */
    static final class LibC32 {

        static native int ioctl(int fd, int request, byte[] ifreq) throws LastErrorException;

        static native int write(int fd, Pointer buffer, int count) throws LastErrorException;

        static native int poll(byte[] fds, int nfds, int timeoutMillis) throws LastErrorException;

        private LibC32() {
        }
    }

    /** {@link QuietLibC}'s calls for a 32-bit libc (see {@link LibC32}). */
    static final class QuietLibC32 {

        static native int read(int fd, Pointer buffer, int count);

        static native int ioctl(int fd, int request, int value);

        private QuietLibC32() {
        }
    }

    /** A C {@code long} is 32 bits (i386): the calls go through {@link LibC32} and {@link QuietLibC32}. */
    static final boolean LONG_IS_32_BITS = Native.LONG_SIZE == 4;

    private static int ioctl(int fd, long request, byte[] ifreq) {
        return LONG_IS_32_BITS ? LibC32.ioctl(fd, (int) request, ifreq) : LibC.ioctl(fd, request, ifreq);
    }

    private static int quietIoctl(int fd, long request, int value) {
        return LONG_IS_32_BITS ? QuietLibC32.ioctl(fd, (int) request, value) : QuietLibC.ioctl(fd, request, value);
    }

    private static long quietRead(int fd, Pointer buffer, int count) {
        return LONG_IS_32_BITS ? QuietLibC32.read(fd, buffer, count) : QuietLibC.read(fd, buffer, count);
    }

    private static long write(int fd, Pointer buffer, int count) {
        return LONG_IS_32_BITS ? LibC32.write(fd, buffer, count) : LibC.write(fd, buffer, count);
    }

    private static int poll(byte[] fds, int nfds, int timeoutMillis) {
        return LONG_IS_32_BITS ? LibC32.poll(fds, nfds, timeoutMillis) : LibC.poll(fds, nfds, timeoutMillis);
    }

    private static final short POLLIN = 0x1;
    /** How long a read waits before it looks again whether the device was closed. */
    private static final int POLL_MILLIS = 200;

    /**
     * read(2) reporting failure as -1 with errno in {@link Native#getLastError()}: an empty
     * non-blocking read is the common case between packets, and an exception for each would cost
     * more than the read.
     */
    static final class QuietLibC {

        static native long read(int fd, Pointer buffer, long count);

        /** For requests whose argument is a value ({@code TUNSETOFFLOAD}). */
        static native int ioctl(int fd, long request, long value);

        private QuietLibC() {
        }
    }

    private final String name;
    private final int fd;
    private volatile boolean closed;
    private final java.util.concurrent.atomic.AtomicBoolean closing = new java.util.concurrent.atomic.AtomicBoolean();
    /**
     * Reads and writes share it; close takes it alone. Closing a descriptor does not wake a
     * thread blocked on it, and while one is blocked the interface would live on: so reads wait
     * in poll() with a timeout, and close waits for them to notice before it closes.
     */
    private final java.util.concurrent.locks.ReentrantReadWriteLock lock = new java.util.concurrent.locks.ReentrantReadWriteLock();

    private final boolean offload;
    /*
     * Reads and writes go through native memory the kernel copies into and out of directly; a Java
     * array handed to native code would be copied whole on the way in and out. One buffer for the
     * reading thread; writers (the receive thread, relay threads) each get their own.
     */
    private final ByteBuffer readBuffer = ByteBuffer.allocateDirect(MAX_FRAME);
    private final Pointer readPointer = Native.getDirectBufferPointer(readBuffer);
    private static final ThreadLocal<ByteBuffer> WRITE_BUFFERS = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(MAX_FRAME));
    private static final ThreadLocal<Pointer> WRITE_POINTERS = ThreadLocal.withInitial(() -> Native.getDirectBufferPointer(WRITE_BUFFERS.get()));

    private LinuxTun(String name, int fd, boolean offload) {
        this.name = name;
        this.fd = fd;
        this.offload = offload;
    }

    /**
     * Whether frames carry a virtio-net header with segmentation offload (TCP bursts of up to 64 KiB
     * each way): read frames go through {@link SegmentationOffload}, written ones come from a
     * {@link ReceiveCoalescer}.
     */
    public boolean offload() {
        return offload;
    }

    /** Creates (or attaches to) the TUN interface {@code name}, plain packets; needs CAP_NET_ADMIN. */
    public static LinuxTun open(String name) throws IOException {
        return open(name, false);
    }

    /**
     * Creates (or attaches to) the TUN interface {@code name}; with {@code offload}, asks for
     * checksum and TCP segmentation offload, and falls back to plain packets where the kernel
     * refuses it (the result's {@link #offload()} says which).
     */
    public static LinuxTun open(String name, boolean offload) throws IOException {
        LinuxTun tun = openDevice(name, offload);
        if (offload && !tun.offload) {
            tun.close();
            return openDevice(name, false);
        }
        return tun;
    }

    private static LinuxTun openDevice(String name, boolean offload) throws IOException {
        byte[] nameBytes = name.getBytes(StandardCharsets.US_ASCII);
        if (nameBytes.length == 0 || nameBytes.length >= IFNAMSIZ || !name.matches("[A-Za-z0-9_.-]+")) {
            throw new IOException("not an interface name: '" + name + "' (1-15 of A-Z a-z 0-9 _ . -)");
        }
        LibcBinding.bind();
        int fd;
        try {
            fd = LibC.open("/dev/net/tun", O_RDWR | O_NONBLOCK);
        } catch (LastErrorException e) {
            throw new IOException("cannot open /dev/net/tun (errno " + e.getErrorCode() + "); the TUN module and"
                    + " CAP_NET_ADMIN are needed, or run in userspace mode", e);
        }
        // struct ifreq: char ifr_name[16]; short ifr_flags; padding to 40 bytes.
        byte[] ifreq = new byte[40];
        System.arraycopy(nameBytes, 0, ifreq, 0, nameBytes.length);
        int flags = IFF_TUN | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0);
        ifreq[16] = (byte) flags;
        ifreq[17] = (byte) (flags >> 8);
        try {
            ioctl(fd, TUNSETIFF, ifreq);
        } catch (LastErrorException e) {
            LibC.close(fd);
            throw new IOException("TUNSETIFF " + name + " failed (errno " + e.getErrorCode() + ")", e);
        }
        boolean offloaded = offload && quietIoctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) == 0;
        LibcBinding.opened();
        return new LinuxTun(name, fd, offloaded);
    }

    public String name() {
        return name;
    }

    /**
     * Reads one packet (with offload: one frame); blocks. Returns its length, or -1 once the device
     * is closed. One thread reads.
     */
    public int read(byte[] buffer) throws IOException {
        byte[] pollfd = new byte[8]; // struct pollfd { int fd; short events; short revents; }
        pollfd[0] = (byte) fd;
        pollfd[1] = (byte) (fd >> 8);
        pollfd[2] = (byte) (fd >> 16);
        pollfd[3] = (byte) (fd >> 24);
        pollfd[4] = (byte) POLLIN;
        while (true) {
            lock.readLock().lock();
            try {
                if (closed) {
                    return -1;
                }
                // Under load a packet is usually waiting: one system call, not two.
                long n = quietRead(fd, readPointer, Math.min(buffer.length, MAX_FRAME));
                if (n >= 0) {
                    readBuffer.get(0, buffer, 0, (int) n);
                    return (int) n;
                }
                int errno = Native.getLastError();
                if (errno != EAGAIN && errno != 4) {
                    throw new IOException("TUN read failed (errno " + errno + ")");
                }
                pollfd[6] = 0;
                pollfd[7] = 0;
                poll(pollfd, 1, POLL_MILLIS);
            } catch (LastErrorException e) {
                if (e.getErrorCode() == 4) { // EINTR
                    continue;
                }
                throw new IOException("TUN read failed (errno " + e.getErrorCode() + ")", e);
            } finally {
                lock.readLock().unlock();
            }
        }
    }

    /** Writes one packet (with offload: one frame) to the kernel. */
    public void write(byte[] packet, int length) throws IOException {
        lock.readLock().lock();
        try {
            if (closed) {
                throw new IOException("TUN device " + name + " is closed");
            }
            WRITE_BUFFERS.get().put(0, packet, 0, length);
            write(fd, WRITE_POINTERS.get(), length);
        } catch (LastErrorException e) {
            throw new IOException("TUN write failed (errno " + e.getErrorCode() + ")", e);
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Adds an address such as {@code 10.99.0.1/24} or {@code fd00::1/64}. */
    public void addAddress(String cidr) throws IOException {
        ip("addr", "add", cidr, "dev", name);
    }

    /** Removes an address given by {@link #addAddress}. */
    public void removeAddress(String cidr) throws IOException {
        ip("addr", "del", cidr, "dev", name);
    }

    public void setMtu(int mtu) throws IOException {
        ip("link", "set", "dev", name, "mtu", Integer.toString(mtu));
    }

    public void up() throws IOException {
        ip("link", "set", "dev", name, "up");
    }

    /** Routes a prefix (a peer's allowed IPs) into the device. */
    public void addRoute(String cidr) throws IOException {
        ip("route", "replace", cidr, "dev", name);
    }

    /** Removes a route this device carried (a peer left). */
    public void removeRoute(String cidr) throws IOException {
        ip("route", "del", cidr, "dev", name);
    }

    private static void ip(String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("ip"));
        if (args[0].equals("route") || args[0].equals("addr")) {
            // iproute2 needs -6 for IPv6 routes given without a family hint in some versions.
            for (String a : args) {
                if (a.contains(":")) {
                    cmd.add("-6");
                    break;
                }
            }
        }
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        try {
            if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException(String.join(" ", cmd) + " failed: " + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    /** Closes the descriptor, which removes the interface and its routes. */
    @Override
    public void close() {
        if (!closing.compareAndSet(false, true)) {
            return; // closed once only: the descriptor's number may already belong to another file
        }
        closed = true;
        lock.writeLock().lock(); // waits at most one poll interval for a reader
        try {
            LibC.close(fd);
        } catch (LastErrorException ignored) {
            // already gone
        } finally {
            lock.writeLock().unlock();
            LibcBinding.closed();
        }
    }

}
