package io.cloudbridge.transport.support;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.net.NodeKey;
import io.netty.buffer.ByteBuf;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.DefaultEventLoopGroup;
import io.netty.channel.local.LocalAddress;
import io.netty.channel.local.LocalChannel;
import io.netty.channel.local.LocalServerChannel;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

class OutboxTest {
    private static final NodeKey PEER = NodeKey.of(new byte[32]);
    private static final Function<ByteBuf, Object> AS_IS = b -> b;

    /** A channel whose write buffer is "full" above 2 KiB: two full-size packets. */
    private static EmbeddedChannel smallBufferChannel(io.netty.channel.ChannelHandler... handlers) {
        EmbeddedChannel channel = new EmbeddedChannel(handlers);
        channel.config().setOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(1024, 2048));
        return channel;
    }

    private static int written(EmbeddedChannel channel) {
        int n = 0;
        for (Object m; (m = channel.readOutbound()) != null; n++) {
            ((ByteBuf) m).release();
        }
        return n;
    }

    @Test
    void aPacketOfferedWhileABurstFillsTheWriteBufferIsNotDropped() throws Exception {
        // Another thread offers while the loop is half-way through writing a burst: the channel is
        // unwritable for that moment. The packet waits for the next drain instead of being lost.
        // (A real event loop: an embedded channel runs tasks inside its flush.)
        DefaultEventLoopGroup loops = new DefaultEventLoopGroup(1);
        try {
            LocalAddress address = new LocalAddress("outbox-test-" + System.nanoTime());
            Channel server = new ServerBootstrap().group(loops).channel(LocalServerChannel.class)
                    .childHandler(new ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                            ((ByteBuf) msg).release();
                        }
                    }).bind(address).sync().channel();
            Outbox[] outbox = new Outbox[1];
            boolean[] offeredMidBurst = new boolean[1];
            boolean[] writableMidBurst = {true};
            int[] written = new int[1];
            Channel client = new Bootstrap().group(loops).channel(LocalChannel.class)
                    .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(1024, 2048))
                    .handler(new ChannelOutboundHandlerAdapter() {
                        private int writes;

                        @Override
                        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
                            ctx.write(msg, promise);
                            written[0]++;
                            if (++writes == 2) {
                                // The second packet (with its key) crosses the 2 KiB mark, before any flush.
                                writableMidBurst[0] = ctx.channel().isWritable();
                                offeredMidBurst[0] = outbox[0].offer(PEER, ByteBuffer.allocate(1000));
                            }
                        }
                    }).connect(address).sync().channel();
            outbox[0] = new Outbox(client, AS_IS, 1400);
            // Offered on the loop itself, so that all 40 are queued before the drain runs.
            client.eventLoop().submit(() -> {
                for (int i = 0; i < 40; i++) {
                    assertTrue(outbox[0].offer(PEER, ByteBuffer.allocate(1000)));
                }
            }).sync();
            // Every packet went down the pipeline and out of the write buffer (what the peer then makes of
            // them is the local transport's business).
            client.eventLoop().submit(() -> { }).sync();
            assertEquals(41, written[0], () -> "drops " + outbox[0].droppedByReason());
            assertEquals(0, client.unsafe().outboundBuffer().totalPendingWriteBytes());
            assertFalse(writableMidBurst[0], "the burst filled the write buffer");
            assertTrue(offeredMidBurst[0], "offered while it was full");
            assertEquals(Map.of(), outbox[0].droppedByReason());
            client.close().sync();
            server.close().sync();
        } finally {
            loops.shutdownGracefully(0, 0, TimeUnit.SECONDS);
        }
    }

    @Test
    void aConnectionThatStaysBackedUpDropsWhatFindsNoRoomAndSaysWhere() {
        // A flush that does not get through (a TCP connection whose peer reads nothing): the
        // buffer stays full, and what does not fit is dropped, counted as the connection's backlog.
        EmbeddedChannel channel = smallBufferChannel(new ChannelOutboundHandlerAdapter() {
            @Override
            public void flush(ChannelHandlerContext ctx) {
                // held back
            }
        });
        Outbox outbox = new Outbox(channel, AS_IS, 1400);
        for (int i = 0; i < 10; i++) {
            assertTrue(outbox.offer(PEER, ByteBuffer.allocate(1000)));
        }
        channel.runPendingTasks();
        assertEquals(8, outbox.dropped(), "two packets fit the 2 KiB buffer (with their keys, the second crosses it)");
        assertEquals(Map.of("connection backed up", 8L), outbox.droppedByReason());
        assertEquals(Map.of("connection backed up", 8L), outbox.droppedAfterTaking(), "taken, then dropped: the caller cannot see these");
        channel.finishAndReleaseAll();
    }

    @Test
    void tooLargeAndClosedAreRefusedAtOnceAndCounted() {
        EmbeddedChannel channel = new EmbeddedChannel();
        Outbox outbox = new Outbox(channel, AS_IS, 1400);
        assertFalse(outbox.offer(PEER, ByteBuffer.allocate(1401)));
        outbox.maxPacket(2000);
        assertTrue(outbox.offer(PEER, ByteBuffer.allocate(1401)));
        channel.runPendingTasks();
        assertEquals(1, written(channel));
        channel.close();
        assertFalse(outbox.offer(PEER, ByteBuffer.allocate(100)));
        assertEquals(Map.of("too large", 1L, "closed", 1L), outbox.droppedByReason());
        assertEquals(Map.of(), outbox.droppedAfterTaking(), "both refused at the offer: the caller counted them");
        assertEquals(1, outbox.packets());
    }

    @Test
    void aFullQueueDropsBeforeCopying() {
        EmbeddedChannel channel = new EmbeddedChannel();
        Outbox outbox = new Outbox(channel, AS_IS, 1400);
        for (int i = 0; i < Outbox.MAX_QUEUED; i++) {
            assertTrue(outbox.offer(PEER, ByteBuffer.allocate(10)));
        }
        assertFalse(outbox.offer(PEER, ByteBuffer.allocate(10)), "the loop has not run: the queue is full");
        assertEquals(Map.of("queue full", 1L), outbox.droppedByReason());
        channel.runPendingTasks();
        assertEquals(Outbox.MAX_QUEUED, written(channel));
    }
}
