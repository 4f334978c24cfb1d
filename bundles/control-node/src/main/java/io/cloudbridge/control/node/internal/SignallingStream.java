package io.cloudbridge.control.node.internal;

import io.cloudbridge.boot.log.Correlation;
import com.google.protobuf.ByteString;
import io.cloudbridge.api.mesh.SignalListener;
import io.cloudbridge.api.mesh.Signalling;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.control.v1.ControlServiceGrpc;
import io.cloudbridge.control.v1.Peer;
import io.cloudbridge.control.v1.SignalMessage;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;

/**
 * Signalling: messages to and from the other nodes of the tenant (NAT traversal's offers and
 * candidates), through the relay, on one bidirectional stream.
 *
 * <p>Stages: open (only while registered, one stream at a time), after which the listeners are told
 * to send again what the last stream lost; each message in is given to the listeners with the
 * sender's key from the map (a sender not in the map is dropped); each message out is addressed by
 * the peer's node id from the map. When the stream ends it is reopened after a backoff of its own
 * (so a flapping stream does not slow registration's retries), or at once when its channel was
 * replaced on purpose: a handover gives signalling about 2 s.
 */
final class SignallingStream {
    private static final Logger LOG = ControlSession.LOG;

    private final ControlSession session;
    private final NetworkMap map;

    /** Who hears the signalling messages other nodes send this one (NAT traversal). */
    private final List<SignalListener> signalListeners = new CopyOnWriteArrayList<>();
    /** The signalling stream while it is open; sends are serialised on it (gRPC's observers are not thread-safe). */
    private volatile ClientCallStreamObserver<SignalMessage> signalOut;
    private int signalFailures;

    SignallingStream(ControlSession session, NetworkMap map) {
        this.session = session;
        this.map = map;
    }

    void addListener(SignalListener l) {
        signalListeners.add(l);
    }

    void removeListener(SignalListener l) {
        signalListeners.remove(l);
    }

    /** The node registered again: a stream opened under the earlier registration carries its token, so it starts over. */
    void reopen() {
        ClientCallStreamObserver<SignalMessage> oldSignal = signalOut;
        signalOut = null;
        if (oldSignal != null) {
            oldSignal.cancel("the node registered again", null);
        }
        openSignalling();
    }

    /** A new channel is no sign of a failing relay: the next break starts the backoff afresh. */
    void forgetFailures() {
        signalFailures = 0;
    }

    void openSignalling() {
        if (session.registration == null || signalOut != null) {
            return;
        }
        ManagedChannel on = session.channel;
        ControlServiceGrpc.newStub(on).withCallCredentials(session.bearer()).signal(new Call(on));
        // What listeners sent while it was down, or into the stream that broke, is lost: they send again.
        for (SignalListener l : signalListeners) {
            try {
                l.signallingConnected();
            } catch (RuntimeException e) {
                LOG.warn("a signal listener failed on reconnection: {}", e.toString());
            }
        }
    }

    /** One opening of the stream, on the channel it was opened on. */
    final class Call implements ClientResponseObserver<SignalMessage, SignalMessage> {
        private final ManagedChannel on;
        /** This call's own stream: an ending earlier stream must not clear a newer one. */
        private ClientCallStreamObserver<SignalMessage> mine;

        Call(ManagedChannel on) {
            this.on = on;
        }

        @Override
        public void beforeStart(ClientCallStreamObserver<SignalMessage> requests) {
            mine = requests;
            signalOut = requests; // before any onError can run
        }

        @Override
        public void onNext(SignalMessage m) {
            signalFailures = 0;
            deliver(m);
        }

        @Override
        public void onError(Throwable t) {
            ended("signalling stream ended: " + ControlSession.describe(Status.fromThrowable(t)));
        }

        @Override
        public void onCompleted() {
            ended("signalling stream ended by the relay");
        }

        private void ended(String why) {
            if (signalOut == mine) {
                signalEnded(why, on != session.channel);
            }
        }
    }

    /** Gives a message from another node to every listener, with the sender's key as the map has it. */
    void deliver(SignalMessage m) {
        Peer from = map.byNodeId(m.getFromNodeId());
        if (from == null || from.getWireguardPublicKey().size() != 32) {
            LOG.debug("a signal from {}, which is not in this node's map: dropped", m.getFromNodeId());
            return;
        }
        NodeKey key = NodeKey.of(from.getWireguardPublicKey().toByteArray());
        byte[] payload = m.getPayload().toByteArray();
        // The listeners hear it under the sender's flow id (they carry it on, as hole punching does).
        try (Correlation.Scope flow = Correlation.open(Correlation.fromPeer(m.getCorrelationId()) ? m.getCorrelationId() : null)) {
            for (SignalListener l : signalListeners) {
                try {
                    l.onSignal(key, m.getPayloadType(), m.getPayloadVersion(), payload);
                } catch (RuntimeException e) {
                    LOG.warn("a signal listener failed on {}: {}", m.getPayloadType(), e.toString());
                }
            }
        }
    }

    /** @param channelReplaced the stream's channel was replaced on purpose: reopen on the new one at once */
    private void signalEnded(String why, boolean channelReplaced) {
        signalOut = null;
        ScheduledExecutorService s = session.scheduler;
        if (s == null || s.isShutdown()) {
            return;
        }
        // Its own backoff: a stream the relay replaced or dropped must not slow registration's retries.
        long wait = channelReplaced ? 0 : reopenDelayMillis(signalFailures++);
        LOG.info("{}; reopening in {} ms", why, wait);
        s.schedule(this::openSignalling, wait, TimeUnit.MILLISECONDS);
    }

    /** The wait before the stream is reopened after {@code failedBefore} breaks in a row: 250 ms doubling, at most 30 s. */
    static long reopenDelayMillis(int failedBefore) {
        return Math.min(30_000, 250L << Math.min(failedBefore, 7));
    }

    /** @see Signalling#send */
    boolean send(NodeKey to, String type, int version, byte[] payload) {
        ClientCallStreamObserver<SignalMessage> out = signalOut;
        if (out == null || payload.length > Signalling.MAX_PAYLOAD || type.length() > 64) {
            return false;
        }
        String nodeId = map.nodeIdOf(to);
        if (nodeId == null) {
            return false;
        }
        SignalMessage.Builder message = SignalMessage.newBuilder().setToNodeId(nodeId)
                .setPayloadType(type).setPayloadVersion(version).setPayload(ByteString.copyFrom(payload));
        String flow = Correlation.current();
        if (Correlation.valid(flow)) {
            message.setCorrelationId(flow); // the sender's flow (a path attempt): the relay and the peer log under it
        }
        SignalMessage m = message.build();
        synchronized (out) {
            try {
                out.onNext(m);
                return true;
            } catch (RuntimeException e) {
                // The stream broke under this send (its onError may have come before it was kept).
                if (signalOut == out) {
                    signalEnded("signalling stream failed on send: " + e, false);
                }
                return false;
            }
        }
    }
}
