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

    private final InetSocketAddress server;
    private final DatagramChannel channel;
    private final String header;

    private SyslogForwarder(InetSocketAddress server, String hostname) throws IOException {
        this.server = server;
        this.channel = DatagramChannel.open();
        this.channel.configureBlocking(false);
        this.header = " " + hostname + " cloudbridge " + ProcessHandle.current().pid() + " audit - ";
    }

    /**
     * A forwarder to {@code address} ({@code udp://HOST:PORT} or {@code HOST:PORT}; port 514 when
     * none is given); refused with the reason when it is not one.
     */
    static SyslogForwarder to(String address) throws IOException {
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
        InetSocketAddress server = new InetSocketAddress(uri.getHost(), port);
        if (server.isUnresolved()) {
            throw new IOException("audit.syslog host '" + uri.getHost() + "' does not resolve");
        }
        String hostname;
        try {
            hostname = java.net.InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            hostname = "-";
        }
        return new SyslogForwarder(server, hostname.isEmpty() || hostname.contains(" ") ? "-" : hostname);
    }

    InetSocketAddress server() {
        return server;
    }

    /** Sends one line; false when the datagram could not be sent (the socket's buffer full, no route). */
    boolean send(Instant time, String line) {
        byte[] message = ("<" + PRIORITY + ">1 " + time + header + line).getBytes(StandardCharsets.UTF_8);
        int length = Math.min(message.length, MAX_DATAGRAM);
        try {
            return channel.send(ByteBuffer.wrap(message, 0, length), server) > 0;
        } catch (IOException e) {
            return false;
        }
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
