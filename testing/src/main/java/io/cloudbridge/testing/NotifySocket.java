package io.cloudbridge.testing;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.NativeLong;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * The receiving end of sd_notify for tests: a Unix datagram socket bound as systemd binds its own
 * {@code NOTIFY_SOCKET} (libc through JNA: the JDK has no Unix datagram socket), at a path or, for
 * a name starting with {@code @}, in the abstract namespace (reachable from a read-only or private
 * file system, as long as the network namespace is the same).
 */
public final class NotifySocket implements AutoCloseable {
    private static final int SOL_SOCKET = 1;
    private static final int SO_RCVTIMEO = 20;
    private static final int EAGAIN = 11;

    static final class LibC {
        static {
            Native.register(LibC.class, NativeLibrary.getInstance("c"));
        }

        static native int socket(int domain, int type, int protocol) throws LastErrorException;

        static native int bind(int fd, byte[] address, int addressLength) throws LastErrorException;

        static native int setsockopt(int fd, int level, int name, long[] value, int length) throws LastErrorException;

        static native NativeLong recv(int fd, byte[] buffer, NativeLong length, int flags) throws LastErrorException;

        static native int close(int fd) throws LastErrorException;

        private LibC() {
        }
    }

    private final int fd;

    private NotifySocket(int fd) {
        this.fd = fd;
    }

    /** Binds {@code socket}: an absolute path, or {@code @name}. */
    public static NotifySocket bind(String socket) {
        byte[] name = socket.getBytes(StandardCharsets.UTF_8);
        boolean abstractName = socket.startsWith("@");
        // struct sockaddr_un: the family, then a path and its NUL, or a NUL and the abstract name.
        java.nio.ByteBuffer address = java.nio.ByteBuffer.allocate(2 + name.length + (abstractName ? 0 : 1))
                .order(java.nio.ByteOrder.nativeOrder());
        address.putShort((short) 1);
        if (abstractName) {
            address.put((byte) 0).put(name, 1, name.length - 1);
        } else {
            address.put(name).put((byte) 0);
        }
        int fd = LibC.socket(1, 2, 0);
        try {
            LibC.bind(fd, address.array(), address.capacity());
        } catch (LastErrorException e) {
            LibC.close(fd);
            throw e;
        }
        return new NotifySocket(fd);
    }

    /** The next message, or null when none came within {@code limit} (the socket's receive time-out: no polling). */
    public String receive(Duration limit) {
        long micros = Math.max(1, limit.toNanos() / 1000);
        LibC.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, new long[] {micros / 1_000_000, micros % 1_000_000}, 16); // struct timeval
        byte[] buffer = new byte[4096];
        try {
            int n = LibC.recv(fd, buffer, new NativeLong(buffer.length), 0).intValue();
            return new String(buffer, 0, n, StandardCharsets.UTF_8);
        } catch (LastErrorException e) {
            if (e.getErrorCode() == EAGAIN) {
                return null;
            }
            throw e;
        }
    }

    /** Throws away what arrives for {@code time}. */
    public void drain(Duration time) {
        long end = System.nanoTime() + time.toNanos();
        while (System.nanoTime() - end < 0) {
            receive(Duration.ofMillis(10));
        }
    }

    @Override
    public void close() {
        LibC.close(fd);
    }
}
