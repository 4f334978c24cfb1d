package io.cloudbridge.audit.internal;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.charset.StandardCharsets;
import java.time.Instant;

/**
 * Sends each audit line to a syslog server as well, over UDP (RFC 5426) in the RFC 5424 format:
 * facility authpriv, severity notice, app-name {@code cloudbridge}, msgid {@code audit}, the
 * line as the message. A copy kept on another machine is what catches a trail cut short or
 * rewritten by someone holding the daemon's own user. UDP, since the audit must never wait on a
 * remote server: a lost datagram is a gap in the copy, not in the trail.
 */
final class SyslogForwarder implements AutoCloseable {
    /** authpriv (10) * 8 + notice (5). */
    static final int PRIORITY = 85;
    /** What every syslog server must take over UDP is 480 bytes, what it should 2,048; rsyslog takes 8 KiB by default. */
    static final int MAX_DATAGRAM = 8_192;
    /** How long a name that did not resolve is left before it is asked again. */
    static final long RESOLVE_AGAIN_NANOS = java.util.concurrent.TimeUnit.MINUTES.toNanos(1);

    private final String host;
    private final int port;
    private final DatagramChannel channel;
    private final String header;
    private InetSocketAddress server;
    private long resolvedAtNanos;
    private boolean resolvedOnce;

    private SyslogForwarder(String host, int port, String hostname) throws IOException {
        this.host = host;
        this.port = port;
        this.channel = DatagramChannel.open();
        this.channel.configureBlocking(false);
        this.header = " " + hostname + " cloudbridge " + ProcessHandle.current().pid() + " audit - ";
    }

    /** The host and port of {@code address} ({@code udp://HOST:PORT} or {@code HOST:PORT}; port 514 when none is given). */
    record Address(String host, int port) {
        static Address parse(String address) throws IOException {
            String text = address.strip();
            URI uri;
            try {
                uri = URI.create(text.contains("://") ? text : "udp://" + text);
            } catch (IllegalArgumentException e) {
                throw new IOException("audit.syslog '" + address + "' is not HOST:PORT or udp://HOST:PORT", e);
            }
            if (!"udp".equals(uri.getScheme()) || uri.getHost() == null) {
                throw new IOException("audit.syslog '" + address + "' is not HOST:PORT or udp://HOST:PORT (only UDP is supported)");
            }
            int port = uri.getPort() < 0 ? 514 : uri.getPort();
            if (port == 0 || port > 65535) {
                throw new IOException("audit.syslog '" + address + "': port " + port + " is not 1-65535");
            }
            return new Address(uri.getHost(), port);
        }

        /** The address resolved now; refused with the reason when the name does not resolve. */
        InetSocketAddress resolve() throws IOException {
            InetSocketAddress resolved = new InetSocketAddress(host, port);
            if (resolved.isUnresolved()) {
                throw new IOException("audit.syslog host '" + host + "' does not resolve");
            }
            return resolved;
        }
    }

    /**
     * A forwarder to {@code address}, refused when it does not parse. The name is resolved when the
     * first line goes (and again a minute after it failed to), so that a name server not up yet at
     * boot costs the copy its first lines, not the trail its start.
     */
    static SyslogForwarder to(String address) throws IOException {
        Address parsed = Address.parse(address);
        String hostname;
        try {
            hostname = java.net.InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            hostname = "-";
        }
        return new SyslogForwarder(parsed.host(), parsed.port(), hostname.isEmpty() || hostname.contains(" ") ? "-" : hostname);
    }

    /** Where the lines go, as configured. */
    String target() {
        return host + ":" + port;
    }

    /**
     * Sends one line; false when it did not go whole (the name does not resolve, the socket's
     * buffer is full, no route, or the line is longer than a datagram and was cut).
     */
    boolean send(Instant time, String line) {
        InetSocketAddress to = server();
        if (to == null) {
            return false;
        }
        byte[] message = ("<" + PRIORITY + ">1 " + time + header + line).getBytes(StandardCharsets.UTF_8);
        int length = Math.min(message.length, MAX_DATAGRAM);
        try {
            return channel.send(ByteBuffer.wrap(message, 0, length), to) > 0 && length == message.length;
        } catch (IOException e) {
            return false;
        }
    }

    private InetSocketAddress server() {
        long now = System.nanoTime();
        if (server == null && (!resolvedOnce || now - resolvedAtNanos > RESOLVE_AGAIN_NANOS)) {
            resolvedOnce = true;
            resolvedAtNanos = now;
            try {
                server = new Address(host, port).resolve();
            } catch (IOException e) {
                server = null;
            }
        }
        return server;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
