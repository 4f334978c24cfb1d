package io.cloudbridge.transport.websocket.internal;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.CorruptedFrameException;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocket13FrameDecoder;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;

/**
 * Fuzz targets for the WebSocket transport's framing after the upgrade: the relay reads a node's
 * frames with {@link Frames#relayDecoder()} (masked, bounded), a node reads the relay's (unmasked,
 * the same bound). A stream yields frames no larger than {@link Frames#MAX_FRAME}, or the decoder
 * refuses it with its protocol error (the session closes); close frames give a status and reason
 * as the node's handler reads them. Nothing is allocated for a length the bound refuses.
 */
class RelayFrameFuzzTest {

    @FuzzTest
    void relayReads(byte[] data) {
        frames(data, Frames.relayDecoder());
    }

    @FuzzTest
    void nodeReads(byte[] data) {
        frames(data, WebSocketDecoderConfig.newBuilder().maxFramePayloadLength(Frames.MAX_FRAME).expectMaskedFrames(false)
                .allowExtensions(false).build());
    }

    private static void frames(byte[] data, WebSocketDecoderConfig config) {
        EmbeddedChannel channel = new EmbeddedChannel(new WebSocket13FrameDecoder(config));
        try {
            // Two reads, split where the first byte says: a frame may straddle TCP segments.
            int cut = data.length == 0 ? 0 : (data[0] & 0xff) % data.length;
            channel.writeInbound(Unpooled.wrappedBuffer(data, 0, cut));
            channel.writeInbound(Unpooled.wrappedBuffer(data, cut, data.length - cut));
        } catch (DecoderException e) {
            // Netty reports a protocol violation by closing with 1002/1009; nothing else may come out.
            assertTrue(e instanceof CorruptedFrameException || e instanceof TooLongFrameException, e.toString());
        }
        WebSocketFrame frame;
        while ((frame = channel.readInbound()) != null) {
            try {
                assertTrue(frame.content().readableBytes() <= Frames.MAX_FRAME);
                if (frame instanceof CloseWebSocketFrame close) {
                    int code = close.statusCode();
                    // Netty takes any code from 3000 up (RFC 6455 defines none past 4999); the node's
                    // handler only compares it with 1008, so any code it lets through is safe.
                    assertTrue(code == -1 || code >= 1000 && code <= 0xffff, "close code " + code);
                    close.reasonText();
                }
            } finally {
                frame.release();
            }
        }
        channel.finishAndReleaseAll();
    }
}
