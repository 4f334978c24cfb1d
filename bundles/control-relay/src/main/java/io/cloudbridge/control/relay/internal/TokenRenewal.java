package io.cloudbridge.control.relay.internal;

import com.google.protobuf.ByteString;
import io.cloudbridge.control.v1.NodeToken;
import io.cloudbridge.control.v1.RefreshTokenRequest;
import io.cloudbridge.control.v1.RefreshTokenResponse;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;

/**
 * Token renewal: a node trades its one-time refresh token for a new node token and a new refresh
 * token, without its registration credential. The renewal is charged to the node and its tenant
 * before the refresh token is used up, and answered only once the exchange is durable.
 */
final class TokenRenewal {
    private final RelayState state;
    private final NodeTokens tokens;
    private final Clock clock;
    private final RelayConfig config;
    /** Answers go out only once what they report is in the database's file (group commit). */
    private final io.cloudbridge.store.Durability durability;
    private final KeyRotationVerifier rotations;
    private final CredentialRegistry credentials;
    private final ControlRefusals refusals;
    private final ControlBudgets budgets;
    /** Renewals answered with new tokens since the relay started. */
    private final LongAdder renewals = new LongAdder();

    TokenRenewal(RelayState state, NodeTokens tokens, Clock clock, RelayConfig config, io.cloudbridge.store.Durability durability,
            KeyRotationVerifier rotations, CredentialRegistry credentials, ControlRefusals refusals, ControlBudgets budgets) {
        this.state = state;
        this.tokens = tokens;
        this.clock = clock;
        this.config = config;
        this.durability = durability;
        this.rotations = rotations;
        this.credentials = credentials;
        this.refusals = refusals;
        this.budgets = budgets;
    }

    private NodeToken token(String nodeId, String tenant, String nodeKey, Instant now) throws SQLException {
        StringBuilder jwt = new StringBuilder();
        Instant expires = tokens.issue(nodeId, tenant, nodeKey, now, jwt);
        credentials.renewed(nodeId, nodeKey, expires);
        String refresh = state.refreshTokens().create(nodeId, now.plusSeconds(config.refreshLifetimeSeconds()));
        return NodeToken.newBuilder().setJwt(jwt.toString()).setExpiresAtEpochSeconds(expires.getEpochSecond())
                .setRefreshToken(refresh).build();
    }

    void refreshToken(RefreshTokenRequest request, StreamObserver<RefreshTokenResponse> reply) {
        String remote = ControlService.remote(Context.current());
        try {
            Instant now = clock.instant();
            // Charged before the token is used up: a renewal refused for a budget leaves the node its token.
            Optional<RelayState.Node> node = state.refreshTokens().use(request.getRefreshToken(), now,
                    id -> nodeOrEmpty(id).ifPresent(n -> budgets.charge(AuthRefusal.RENEWAL_OVER_BUDGET, remote, now,
                            new CallBudgets.Charge("renew/node/" + n.id(), config.renewalsPerNodePerMinute(), "renewals of this node"),
                            new CallBudgets.Charge("renew/tenant/" + n.tenant(), config.renewalsPerTenantPerMinute(),
                                    "renewals in this tenant")))).flatMap(this::nodeOrEmpty);
            if (node.isEmpty()) {
                throw refusals.refuse(Status.UNAUTHENTICATED, "refresh token unknown, used or expired", remote,
                        AuthRefusal.RENEWAL_BAD_REFRESH_TOKEN);
            }
            RelayState.Node n = node.get();
            NodeToken renewed = token(n.id(), n.tenant(), n.key(), now);
            durability.sync(); // the new refresh token is kept, the used one gone, before the node hears of it
            renewals.increment();
            reply.onNext(RefreshTokenResponse.newBuilder().setToken(renewed)
                    .setRelayKey(ByteString.copyFrom(rotations.publicKey().toBytes())).build());
            reply.onCompleted();
        } catch (StatusRuntimeException e) {
            reply.onError(e);
        } catch (SQLException e) {
            reply.onError(Status.UNAVAILABLE.withDescription("the relay's database failed; try again").asRuntimeException());
        }
    }

    long renewed() {
        return renewals.sum();
    }

    private Optional<RelayState.Node> nodeOrEmpty(String id) {
        try {
            return state.node(id);
        } catch (SQLException e) {
            throw Status.UNAVAILABLE.withDescription("the relay's database failed; try again").asRuntimeException();
        }
    }
}
