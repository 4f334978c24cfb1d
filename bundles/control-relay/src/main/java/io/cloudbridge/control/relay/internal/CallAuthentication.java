package io.cloudbridge.control.relay.internal;

import io.cloudbridge.api.net.NodeKey;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.sql.SQLException;
import java.time.Clock;
import java.util.Optional;

/**
 * Who is calling, by the node token: the interceptor that admits every control call but Register
 * and RefreshToken (which carry their own credential), and the check the data plane's transports
 * make of a session's token. Both ask for the relay's signature, an unexpired token, and the node
 * still registered with the token's key.
 */
final class CallAuthentication {
    private final RelayState state;
    private final NodeTokens tokens;
    private final Clock clock;
    private final ControlRefusals refusals;

    CallAuthentication(RelayState state, NodeTokens tokens, Clock clock, ControlRefusals refusals) {
        this.state = state;
        this.tokens = tokens;
        this.clock = clock;
        this.refusals = refusals;
    }

    ServerInterceptor authenticator() {
        return new ServerInterceptor() {
            @Override
            public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
                String method = call.getMethodDescriptor().getBareMethodName();
                String remote = address(call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
                Context context = Context.current().withValue(ControlService.REMOTE, remote);
                if ("Register".equals(method) || "RefreshToken".equals(method)) {
                    return Contexts.interceptCall(context, call, headers, next);
                }
                String header = headers.get(ControlService.AUTHORIZATION);
                try {
                    if (header == null || !header.startsWith("Bearer ")) {
                        throw new NodeTokens.Refused(NodeTokens.Refused.Kind.MALFORMED, "no bearer token");
                    }
                    NodeTokens.Claims claims = tokens.verify(header.substring(7).trim(), clock.instant());
                    Optional<RelayState.Node> node = state.node(claims.nodeId());
                    if (node.isEmpty()) {
                        throw new NodeTokens.Refused(NodeTokens.Refused.Kind.NODE_REMOVED, "node removed");
                    }
                    if (!node.get().tenant().equals(claims.tenant()) || !node.get().key().equals(claims.nodeKey())) {
                        throw new NodeTokens.Refused(NodeTokens.Refused.Kind.NODE_REMOVED, "token does not match the node");
                    }
                    return Contexts.interceptCall(context.withValue(ControlService.NODE, claims), call, headers, next);
                } catch (NodeTokens.Refused e) {
                    refusals.count(e.getMessage());
                    ControlService.SECURITY.warn("control call {} refused: {} (from {})", method, e.getMessage(), remote);
                    call.close(Status.UNAUTHENTICATED.withDescription(e.getMessage()), new Metadata());
                } catch (SQLException e) {
                    call.close(Status.UNAVAILABLE.withDescription("the relay's database failed; try again"), new Metadata());
                }
                return new ServerCall.Listener<>() { };
            }
        };
    }

    /**
     * Authenticates a transport session by the node's token, as the control calls are: the
     * relay's own signature, unexpired, and the node still registered with that key.
     */
    io.cloudbridge.api.relay.NodeSessionAuthenticator sessionAuthenticator() {
        return token -> {
            NodeTokens.Claims claims;
            try {
                claims = tokens.verify(token, clock.instant());
            } catch (NodeTokens.Refused e) {
                throw sessionRefused(e.getMessage(), AuthRefusal.session(e.kind()));
            }
            Optional<RelayState.Node> node;
            try {
                node = state.node(claims.nodeId());
            } catch (SQLException e) {
                // Not the node's fault: the transports answer "try again" (503, BUSY), not a refusal.
                throw new io.cloudbridge.api.relay.CredentialCheckUnavailableException("the relay's database failed; try again", e);
            }
            if (node.isEmpty() || !node.get().key().equals(claims.nodeKey())) {
                throw sessionRefused("node removed", AuthRefusal.SESSION_NODE_REMOVED);
            }
            return new io.cloudbridge.api.relay.AuthenticatedNode(claims.nodeId(), claims.tenant(), NodeKey.parse(claims.nodeKey()));
        };
    }

    private io.cloudbridge.api.auth.CredentialRejectedException sessionRefused(String reason, AuthRefusal kind) {
        refusals.count(reason, kind);
        ControlService.SECURITY.warn("relay session refused: {}", reason);
        return new io.cloudbridge.api.auth.CredentialRejectedException(reason);
    }

    private static String address(SocketAddress a) {
        if (a instanceof InetSocketAddress i) {
            return i.getAddress().getHostAddress() + ":" + i.getPort();
        }
        return String.valueOf(a);
    }
}
