package io.cloudbridge.transport.support;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deep buffers for the UDP sockets of the data path (a node's QUIC session, the relay's QUIC
 * listener). The kernel's default (net.core.rmem_default, 208 KiB: some 140 full-size datagrams)
 * overflows when a burst of GSO segments arrives while the reading loop is busy: measured in the
 * NAT lab, a relayed TCP transfer lost 1,855 datagrams a run in the receiving node's socket and 727
 * in the relay's, each a retransmission for the TCP inside. Asked for: 4 MiB each way, as the
 * direct path's socket does; the kernel grants up to net.core.rmem_max / wmem_max, and less is
 * said once, in the log, with the setting to raise.
 */
public final class SocketBuffers {
    /** What each socket asks for, receive and send. */
    public static final int BYTES = 4 << 20;
    private static final Logger LOG = LoggerFactory.getLogger(SocketBuffers.class);
    private static final AtomicBoolean WARNED = new AtomicBoolean();

    private SocketBuffers() {
    }

    /** Asks for {@link #BYTES} each way on the sockets {@code bootstrap} binds. */
    public static Bootstrap deep(Bootstrap bootstrap) {
        return bootstrap.option(ChannelOption.SO_RCVBUF, BYTES).option(ChannelOption.SO_SNDBUF, BYTES);
    }

    /**
     * Says (once per process) when the kernel granted {@code socket} less than asked. Linux reports
     * twice what was granted (the bookkeeping overhead it adds), so half the figure is compared.
     */
    public static void check(Channel socket, String what) {
        try {
            Integer receive = socket.config().getOption(ChannelOption.SO_RCVBUF);
            Integer send = socket.config().getOption(ChannelOption.SO_SNDBUF);
            if (receive == null || send == null) {
                return;
            }
            int granted = Math.min(granted(receive), granted(send));
            if (granted < BYTES && WARNED.compareAndSet(false, true)) {
                LOG.warn("{}: UDP socket buffers of {} KiB receive and {} KiB send, not the {} KiB asked for; bursts will overflow "
                        + "them and be lost (raise net.core.rmem_max and net.core.wmem_max to {} or more)", what,
                        granted(receive) / 1024, granted(send) / 1024, BYTES / 1024, BYTES);
            }
        } catch (RuntimeException e) {
            LOG.debug("{}: socket buffer sizes unknown: {}", what, e.toString());
        }
    }

    private static int granted(int reported) {
        return System.getProperty("os.name", "").startsWith("Linux") ? reported / 2 : reported;
    }
}
