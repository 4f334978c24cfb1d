package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.path.DatagramBatch;
import io.cloudbridge.api.path.PathBinding;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.concurrent.locks.LockSupport;

/**
 * The binding of an engine that has no paths for the moment (their bundle is being replaced, or
 * not installed): nothing goes out, each message counted as "no paths", and the receive thread
 * waits for the next binding.
 */
public final class NoPaths implements PathBinding {
    private static final long IDLE_NANOS = 100_000_000L;

    @Override
    public InetSocketAddress localAddress() {
        return null;
    }

    @Override
    public void start(Arrivals arrivals) {
        // nothing arrives
    }

    @Override
    public Sent send(NodeKey peer, InetSocketAddress endpoint, ByteBuffer message) {
        return Sent.NO_PATHS;
    }

    @Override
    public int receive(DatagramBatch batch) {
        LockSupport.parkNanos(IDLE_NANOS); // the device looks for its next binding when this returns
        return 0;
    }

    @Override
    public void close() {
        // nothing of its own
    }
}
