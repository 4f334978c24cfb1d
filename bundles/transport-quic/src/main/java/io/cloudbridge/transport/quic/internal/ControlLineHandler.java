package io.cloudbridge.transport.quic.internal;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

/**
 * Answers the node's control lines, last on the control stream ({@link ControlStream}); one line
 * at a time, on the connection's loop:
 * <ol>
 * <li>{@code PING} is answered {@code PONG};
 * <li>the first {@code AUTH} hands its token to the sign-in ({@link NodeAuthentication#begin});
 * <li>any other line, a second {@code AUTH} included, is refused and counted malformed;
 * <li>a stream that cannot be read as lines (one longer than {@link QuicWire#MAX_LINE}) is refused
 * and counted malformed the same way.
 * </ol>
 */
final class ControlLineHandler extends SimpleChannelInboundHandler<String> {
    private final Consumer<String> signIn;
    private final SessionCloser closer;
    private final LongAdder malformed;
    /** Whether the node sent AUTH: a session signs in once. */
    private boolean authenticating;

    /**
     * @param signIn    takes the first AUTH line's token, on the connection's loop
     * @param malformed counts the lines and streams refused as not the protocol
     */
    ControlLineHandler(Consumer<String> signIn, SessionCloser closer, LongAdder malformed) {
        this.signIn = signIn;
        this.closer = closer;
        this.malformed = malformed;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, String text) {
        ControlLine line = ControlLine.fromNode(text);
        if (line.kind() == ControlLine.Kind.PING) {
            ctx.writeAndFlush(QuicWire.line("PONG"));
        } else if (line.kind() == ControlLine.Kind.AUTH && !authenticating) {
            authenticating = true;
            signIn.accept(line.argument());
        } else {
            malformed.increment();
            closer.refuse("unexpected control message");
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        malformed.increment();
        closer.refuse("malformed control stream: " + cause.getClass().getSimpleName());
    }
}
