package com.example.cloudbridge.tcp;

/**
 * The sample's wire format, after an HTTP/1.1 upgrade to {@value #PROTOCOL} on the relay's TLS
 * listener at {@value #PATH}: frames of {@code [u16 length][32-byte key][WireGuard message]}, the
 * key naming the destination from node to relay and the source from relay to node.
 */
final class TcpFrames {
    static final String PATH = "/example/tcp/v1";
    static final String PROTOCOL = "example-tcp";
    static final int KEY = 32;
    static final int MAX_FRAME = 65_535;

    private TcpFrames() {
    }
}
