package io.cloudbridge.wireguard.internal.engine;

import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.overlay.WireGuardEngine;
import io.cloudbridge.api.path.DatagramBatch;
import io.cloudbridge.api.path.PathBinding;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;

/**
 * The path binding of an engine that is itself inside a relay (a CONNECT-IP gateway): every
 * message goes to its peer through the owner's transmitter (the tenant's switch port), and what
 * the switch forwards comes in through {@link #relayed}. It has no socket: the engine's receive
 * thread only waits here until the engine closes.
 */
final class TransmitterPaths implements PathBinding {
    private final WireGuardEngine.Transmitter transmitter;
    private volatile Arrivals arrivals;
    private final java.util.concurrent.CountDownLatch closed = new java.util.concurrent.CountDownLatch(1);

    TransmitterPaths(WireGuardEngine.Transmitter transmitter) {
        this.transmitter = transmitter;
    }

    @Override
    public InetSocketAddress localAddress() {
        return null;
    }

    @Override
    public void start(Arrivals arrivals) {
        this.arrivals = arrivals;
    }

    @Override
    public Sent send(NodeKey peer, InetSocketAddress endpoint, ByteBuffer message) {
        if (peer == null) {
            return Sent.NO_ENDPOINT; // a reply to an address: there are none here
        }
        return transmitter.transmit(peer, message) ? Sent.SENT : Sent.PATH_REFUSED;
    }

    @Override
    public int receive(DatagramBatch batch) {
        try {
            return closed.await(200, java.util.concurrent.TimeUnit.MILLISECONDS) ? -1 : 0;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    void relayed(NodeKey sender, ByteBuffer message) {
        Arrivals a = arrivals;
        if (a != null) {
            a.relayed(sender, message);
        }
    }

    void arrived(ByteBuffer message) {
        Arrivals a = arrivals;
        if (a != null) {
            a.arrived(message);
        }
    }

    @Override
    public void close() {
        closed.countDown(); // the transmitter is the owner's
    }
}
