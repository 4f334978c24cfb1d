package io.cloudbridge.boot;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.NativeLong;
import com.sun.jna.Platform;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells systemd how the daemon is doing, as a {@code Type=notify} unit expects (sd_notify(3)):
 * {@code READY=1} once the start is done (every bundle of the boot set started), {@code STATUS=}
 * lines, {@code STOPPING=1} when it begins to stop, and {@code WATCHDOG=1} at half the interval
 * the unit's {@code WatchdogSec=} asks for, while the framework is active. Each message is one
 * datagram to the Unix socket named by {@code NOTIFY_SOCKET} (a path, or {@code @name} in the
 * abstract namespace): the JDK has no Unix datagram socket, so libc's {@code socket} and
 * {@code sendto} are called through JNA. Without {@code NOTIFY_SOCKET} (not started by systemd,
 * or not as a notify unit) every call does nothing.
 */
final class SystemdNotifier implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SystemdNotifier.class);
    private static final int AF_UNIX = 1;
    private static final int SOCK_DGRAM = 2;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final int MSG_NOSIGNAL = 0x4000;
    /** Never wait on systemd: its socket full (a manager that stopped reading) must not hold up a stop. */
    private static final int MSG_DONTWAIT = 0x40;
    /** sun_path's size in struct sockaddr_un on Linux. */
    private static final int SUN_PATH = 108;

    /** libc, bound directly (the launcher's class loader lives as long as the process). */
    static final class LibC {
        static {
            Native.register(LibC.class, NativeLibrary.getInstance("c"));
        }

        static native int socket(int domain, int type, int protocol) throws LastErrorException;

        static native NativeLong sendto(int fd, byte[] message, NativeLong length, int flags, byte[] address, int addressLength)
                throws LastErrorException;

        static native int close(int fd) throws LastErrorException;

        private LibC() {
        }
    }

    private final byte[] address;
    private final int fd;
    private final long watchdogMicros;
    private ScheduledExecutorService watchdog;
    private boolean failedOnce;
    private boolean closed;
    /** STOPPING was said: a start that ends after it is not READY, and starts no watchdog. */
    private boolean stopping;

    private SystemdNotifier(byte[] address, int fd, long watchdogMicros) {
        this.address = address;
        this.fd = fd;
        this.watchdogMicros = watchdogMicros;
    }

    /** The notifier the environment asks for: a working one under a notify unit, else one that does nothing. */
    static SystemdNotifier fromEnvironment(Map<String, String> env) {
        String socket = env.get("NOTIFY_SOCKET");
        if (socket == null || socket.isEmpty() || !Platform.isLinux()) {
            return new SystemdNotifier(null, -1, 0);
        }
        byte[] address = socketAddress(socket);
        if (address == null) {
            LOG.warn("NOTIFY_SOCKET={} is not a socket path or @name: systemd is not told when the daemon is ready", socket);
            return new SystemdNotifier(null, -1, 0);
        }
        int fd;
        try {
            fd = LibC.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        } catch (LastErrorException | LinkageError e) {
            LOG.warn("cannot open a socket to systemd ({}): it is not told when the daemon is ready", e.toString());
            return new SystemdNotifier(null, -1, 0);
        }
        return new SystemdNotifier(address, fd, watchdogMicros(env, ProcessHandle.current().pid()));
    }

    /** struct sockaddr_un for {@code socket}, as many bytes as its length says; null where it is neither a path nor {@code @name}. */
    static byte[] socketAddress(String socket) {
        byte[] name = socket.getBytes(StandardCharsets.UTF_8);
        boolean abstractName = socket.startsWith("@");
        if ((!abstractName && !socket.startsWith("/")) || name.length >= SUN_PATH || name.length < 2) {
            return null;
        }
        // A path ends with its NUL; an abstract name starts with one in place of the '@' and has none at the end.
        ByteBuffer out = ByteBuffer.allocate(2 + name.length + (abstractName ? 0 : 1)).order(ByteOrder.nativeOrder());
        out.putShort((short) AF_UNIX);
        if (abstractName) {
            out.put((byte) 0).put(name, 1, name.length - 1);
        } else {
            out.put(name).put((byte) 0);
        }
        return out.array();
    }

    /** WATCHDOG_USEC, where the watchdog is this process's (WATCHDOG_PID absent or ours); 0 for none. */
    static long watchdogMicros(Map<String, String> env, long pid) {
        String usec = env.get("WATCHDOG_USEC");
        String forPid = env.get("WATCHDOG_PID");
        if (usec == null || (forPid != null && !forPid.equals(Long.toString(pid)))) {
            return 0;
        }
        try {
            return Math.max(0, Long.parseLong(usec.trim()));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    boolean active() {
        return address != null;
    }

    /** The start is done: READY, with a status line (the daemon is the unit's main process: no MAINPID). */
    synchronized void ready(String status) {
        if (!stopping) {
            send("READY=1\nSTATUS=" + oneLine(status));
        }
    }

    void status(String status) {
        send("STATUS=" + oneLine(status));
    }

    synchronized void stopping(String status) {
        stopping = true;
        send("STOPPING=1\nSTATUS=" + oneLine(status));
    }

    /**
     * Pings the watchdog at half its interval, from a thread of its own, while {@code alive} says
     * so: a JVM that stops making progress (stuck, or collecting an exhausted heap without end)
     * misses its pings and systemd restarts it after the interval. (A start that never ends is
     * {@code TimeoutStartSec}'s: systemd arms the watchdog at READY.)
     */
    synchronized void startWatchdog(BooleanSupplier alive) {
        if (!active() || watchdogMicros == 0 || watchdog != null || stopping) {
            return;
        }
        watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "systemd-watchdog");
            t.setDaemon(true);
            return t;
        });
        long every = Math.max(1, watchdogMicros / 2);
        watchdog.scheduleAtFixedRate(() -> {
            if (alive.getAsBoolean()) {
                send("WATCHDOG=1");
            }
        }, 0, every, TimeUnit.MICROSECONDS);
    }

    private static String oneLine(String text) {
        return text.replace('\n', ' ');
    }

    private synchronized void send(String message) {
        if (!active() || closed) {
            return;
        }
        byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
        try {
            LibC.sendto(fd, bytes, new NativeLong(bytes.length), MSG_NOSIGNAL | MSG_DONTWAIT, address, address.length);
        } catch (LastErrorException e) {
            if (!failedOnce) { // (said once: a watchdog ping every few seconds would repeat it)
                failedOnce = true;
                LOG.warn("cannot notify systemd ({}): errno {}", message.split("\n", 2)[0], e.getErrorCode());
            }
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (watchdog != null) {
            watchdog.shutdownNow();
        }
        if (fd >= 0) {
            try {
                LibC.close(fd);
            } catch (LastErrorException e) {
                // closing at exit
            }
        }
    }
}
