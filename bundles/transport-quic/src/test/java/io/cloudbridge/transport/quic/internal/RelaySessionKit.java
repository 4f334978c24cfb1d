package io.cloudbridge.transport.quic.internal;

import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.relay.AuthenticatedNode;
import io.cloudbridge.api.relay.ForwardResult;
import io.cloudbridge.api.relay.PacketSwitch;
import io.cloudbridge.api.relay.PortSink;
import io.cloudbridge.api.relay.SwitchPort;
import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What the relay session's tests drive its parts with: the far ends of the small interfaces the
 * parts take (a connection's close, the switch and its ports), recording what they were asked, and
 * the relay's lines as the node would read them. No mocking framework: each is the interface done
 * by hand.
 */
final class RelaySessionKit {
    static final SocketAddress NODE_ADDRESS = new InetSocketAddress("192.0.2.7", 40_000);

    private RelaySessionKit() {
    }

    /** A 32-byte key made of {@code b}. */
    static NodeKey key(int b) {
        byte[] k = new byte[QuicWire.KEY_LENGTH];
        Arrays.fill(k, (byte) b);
        return NodeKey.of(k);
    }

    /** The lines written on {@code stream} since last asked, each without its newline; the buffers released. */
    static List<String> linesOut(EmbeddedChannel stream) {
        List<String> lines = new ArrayList<>();
        for (ByteBuf b; (b = stream.readOutbound()) != null; ) {
            try {
                String text = b.toString(StandardCharsets.UTF_8);
                if (!text.endsWith("\n")) {
                    throw new AssertionError("a line without its newline: " + text);
                }
                lines.add(text.substring(0, text.length() - 1));
            } finally {
                b.release();
            }
        }
        return lines;
    }

    /** One close of the connection: its application error and phrase. */
    record Close(int error, String phrase) {
    }

    /** A connection's close, recorded; the connection itself stays as it was. */
    static final class RecordingClose implements ConnectionClose {
        final List<Close> closes = new ArrayList<>();

        @Override
        public void close(int applicationError, String phrase) {
            closes.add(new Close(applicationError, phrase));
        }

        @Override
        public SocketAddress remoteAddress() {
            return NODE_ADDRESS;
        }
    }

    /** A packet a port forwarded: its destination and a copy of its bytes. */
    record Forwarded(NodeKey destination, byte[] packet) {
    }

    /** A port that keeps what it forwards. */
    static final class RecordingPort implements SwitchPort {
        final AuthenticatedNode node;
        final List<Forwarded> forwarded = new ArrayList<>();
        boolean closed;

        RecordingPort(AuthenticatedNode node) {
            this.node = node;
        }

        @Override
        public AuthenticatedNode node() {
            return node;
        }

        @Override
        public ForwardResult forward(NodeKey destination, ByteBuffer packet) {
            byte[] copy = new byte[packet.remaining()];
            packet.duplicate().get(copy);
            forwarded.add(new Forwarded(destination, copy));
            return ForwardResult.FORWARDED;
        }

        @Override
        public boolean isOpen() {
            return !closed;
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    /** A switch of one port: the last attached, with its transport's name and sink. */
    static final class OnePortSwitch implements PacketSwitch {
        RecordingPort port;
        String transport;
        PortSink sink;

        @Override
        public SwitchPort attach(AuthenticatedNode node, String transport, PortSink sink) {
            this.port = new RecordingPort(node);
            this.transport = transport;
            this.sink = sink;
            return port;
        }

        @Override
        public boolean disconnect(String tenant, NodeKey node, String reason) {
            return false;
        }
    }
}
