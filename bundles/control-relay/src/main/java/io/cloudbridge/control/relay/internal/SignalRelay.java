package io.cloudbridge.control.relay.internal;

import io.cloudbridge.boot.log.Correlation;
import io.cloudbridge.control.v1.SignalMessage;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Signalling between the nodes of a tenant: each node keeps one stream open, and the relay passes
 * a message on to the stream of the node it names. The stages of a stream: it replaces the node's
 * older stream; it is bound to the node's token, so that revoking the token ends it; each message
 * goes to a connected, reading recipient of the same tenant or is dropped and counted; it ends
 * when either side ends it or the binding does, and leaves the table of streams.
 */
final class SignalRelay {
    private static final Logger LOG = LoggerFactory.getLogger(SignalRelay.class);
    static final int MAX_SIGNAL_PAYLOAD = 16 * 1024;

    private final Map<String, SignalStream> signalStreams = new ConcurrentHashMap<>();
    private final ControlRefusals refusals;
    private final StreamBindings bindings;

    SignalRelay(ControlRefusals refusals, StreamBindings bindings) {
        this.refusals = refusals;
        this.bindings = bindings;
    }

    private static final class SignalStream {
        final String tenant;
        final ServerCallStreamObserver<SignalMessage> out;

        SignalStream(String tenant, ServerCallStreamObserver<SignalMessage> out) {
            this.tenant = tenant;
            this.out = out;
        }

        synchronized void send(SignalMessage m) {
            out.onNext(m);
        }
    }

    StreamObserver<SignalMessage> signal(StreamObserver<SignalMessage> responses) {
        NodeTokens.Claims me = ControlService.NODE.get();
        ServerCallStreamObserver<SignalMessage> out = (ServerCallStreamObserver<SignalMessage>) responses;
        SignalStream mine = new SignalStream(me.tenant(), out);
        SignalStream replaced = signalStreams.put(me.nodeId(), mine);
        if (replaced != null) {
            synchronized (replaced) {
                try {
                    replaced.out.onError(Status.ABORTED.withDescription("replaced by a newer signalling stream").asRuntimeException());
                } catch (RuntimeException alreadyClosed) {
                    // it ended by itself
                }
            }
        }
        java.util.concurrent.atomic.AtomicReference<CredentialRegistry.Bound> bound = new java.util.concurrent.atomic.AtomicReference<>();
        out.setOnCancelHandler(() -> {
            signalStreams.remove(me.nodeId(), mine);
            StreamBindings.closeBinding(bound);
        });
        bindings.bindStream(me, out, bound, status -> {
            signalStreams.remove(me.nodeId(), mine);
            synchronized (mine) {
                try {
                    out.onError(status.asRuntimeException());
                } catch (RuntimeException alreadyClosed) {
                    // it ended by itself
                }
            }
        });
        return new StreamObserver<>() {
            @Override
            public void onNext(SignalMessage m) {
                // Under the exchange's own id, or none (not the stream's, which outlives every exchange on it).
                boolean named = Correlation.fromPeer(m.getCorrelationId());
                try (Correlation.Scope flow = Correlation.open(named ? m.getCorrelationId() : null)) {
                    // An id that is not one goes no further than here (it would be free text to the peer).
                    forward(named || m.getCorrelationId().isEmpty() ? m : m.toBuilder().clearCorrelationId().build());
                }
            }

            private void forward(SignalMessage m) {
                if (m.getPayload().size() > MAX_SIGNAL_PAYLOAD || m.getPayloadType().length() > 64 || m.getToNodeId().isEmpty()) {
                    refusals.count("bad signal message");
                    return;
                }
                SignalStream to = signalStreams.get(m.getToNodeId());
                // Only within the tenant: a node of another tenant is as unknown as one that does not exist.
                if (to == null || !to.tenant.equals(me.tenant()) || to == mine) {
                    refusals.count("signal recipient not connected");
                    return;
                }
                // A recipient that does not read is not buffered for: its messages are dropped.
                if (!to.out.isReady()) {
                    refusals.count("signal recipient not reading");
                    return;
                }
                LOG.debug("signal {} from node {} to node {}", m.getPayloadType(), me.nodeId(), m.getToNodeId());
                try {
                    to.send(m.toBuilder().setFromNodeId(me.nodeId()).build());
                } catch (RuntimeException e) {
                    refusals.count("signal recipient gone");
                }
            }

            @Override
            public void onError(Throwable t) {
                signalStreams.remove(me.nodeId(), mine);
                StreamBindings.closeBinding(bound);
            }

            @Override
            public void onCompleted() {
                signalStreams.remove(me.nodeId(), mine);
                StreamBindings.closeBinding(bound);
                synchronized (mine) {
                    try {
                        out.onCompleted();
                    } catch (RuntimeException alreadyClosed) {
                        // a revocation or a newer stream ended it first; gRPC refuses a second close
                    }
                }
            }
        };
    }
}
