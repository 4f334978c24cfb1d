package io.cloudbridge.control.relay.internal;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ties the control plane's long-lived streams (network map, signalling) to the node token that
 * opened them, so that revoking the token ends them; shared by both stream roles.
 */
final class StreamBindings {
    /** Logs under the control service's name, as before the split: operators' log levels name it. */
    private static final Logger LOG = LoggerFactory.getLogger(ControlService.class);
    private final CredentialRegistry credentials;
    private final ControlRefusals refusals;

    StreamBindings(CredentialRegistry credentials, ControlRefusals refusals) {
        this.credentials = credentials;
        this.refusals = refusals;
    }

    /**
     * Binds a streaming call to the token that opened it: the stream ends when the node is removed,
     * rotates its key, or lets its token expire without renewal. A stream whose token was revoked
     * after the interceptor checked it ends at once. The binding goes when the call ends: the
     * stream's cancel handler (set by the caller) calls {@link #closeBinding}, its close handler here.
     * A database that fails meanwhile ends the stream UNAVAILABLE (the node opens it again), not
     * UNAUTHENTICATED: nothing is wrong with the node's token.
     */
    void bindStream(NodeTokens.Claims node, ServerCallStreamObserver<?> stream,
            java.util.concurrent.atomic.AtomicReference<CredentialRegistry.Bound> holder, java.util.function.Consumer<Status> end) {
        CredentialRegistry.Bound bound;
        try {
            bound = credentials.bindNode(node.nodeId(), node.nodeKey(), node.expires(),
                    reason -> end.accept(Status.UNAUTHENTICATED.withDescription(reason)));
        } catch (io.cloudbridge.api.auth.CredentialRejectedException e) {
            refusals.count(e.getMessage());
            ControlService.SECURITY.warn("stream of node {} refused: {}", node.nodeId(), e.getMessage());
            end.accept(Status.UNAUTHENTICATED.withDescription(e.getMessage()));
            return;
        } catch (io.cloudbridge.api.relay.CredentialCheckUnavailableException e) {
            LOG.warn("stream of node {} ended: {}", node.nodeId(), e.getMessage());
            end.accept(Status.UNAVAILABLE.withDescription(e.getMessage()));
            return;
        }
        holder.set(bound);
        stream.setOnCloseHandler(bound::close);
        if (stream.isCancelled()) {
            bound.close(); // cancelled before the binding was there for the cancel handler to close
        }
    }

    static void closeBinding(java.util.concurrent.atomic.AtomicReference<CredentialRegistry.Bound> holder) {
        CredentialRegistry.Bound b = holder.get();
        if (b != null) {
            b.close();
        }
    }
}
