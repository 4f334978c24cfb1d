package io.cloudbridge.transport.support;

import io.netty.channel.Channel;
import java.util.concurrent.RejectedExecutionException;

/**
 * Work for a channel's event loop from a thread that is taking the transport down. When a relay
 * bundle and a transport plugin are refreshed together, the relay's listener may have shut its
 * event loops down (closing their channels) before the plugin's deactivation reaches its sessions;
 * Netty then refuses the task, or logs an ERROR for a listener it cannot notify. No task can reach
 * such a channel any more, and the loop's owner answers for its sockets, so there is nothing left to do.
 */
public final class ChannelLoops {
    private ChannelLoops() {
    }

    /** Runs {@code task} on the channel's event loop; false if that loop is gone (the channel with it). */
    public static boolean runOn(Channel channel, Runnable task) {
        if (channel.eventLoop().isShuttingDown()) {
            return false;
        }
        try {
            channel.eventLoop().execute(task);
            return true;
        } catch (RejectedExecutionException e) {
            return false;
        }
    }
}
