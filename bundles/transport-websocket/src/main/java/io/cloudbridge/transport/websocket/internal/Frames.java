package io.cloudbridge.transport.websocket.internal;

/**
 * The WebSocket transport's wire format, one overlay packet per binary frame:
 * {@code [32-byte WireGuard public key][encrypted WireGuard message]}. From node to relay the key
 * names the destination; from relay to node, the source. Text frames are not used; fragmented
 * messages are refused.
 */
final class Frames {
    static final int KEY_LENGTH = 32;
    /** The path the relay serves the transport on. */
    static final String PATH = "/cloudbridge/v1/ws";
    /** The WebSocket subprotocol both ends name, so that nothing else mistakes the connection for its own. */
    static final String SUBPROTOCOL = "cloudbridge-relay.v1";
    /** The largest frame payload: a key and the largest WireGuard message. */
    static final int MAX_FRAME = KEY_LENGTH + 65_535;

    private Frames() {
    }

    /** How the relay decodes a node's frames: at most {@link #MAX_FRAME} bytes each, masked, no extensions. */
    static io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig relayDecoder() {
        return io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig.newBuilder().maxFramePayloadLength(MAX_FRAME)
                .allowExtensions(false).allowMaskMismatch(false).build();
    }
}
