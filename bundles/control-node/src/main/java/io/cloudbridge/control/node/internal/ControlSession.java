package io.cloudbridge.control.node.internal;

import io.cloudbridge.api.auth.TokenProvider;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.overlay.OverlayDevice;
import io.cloudbridge.api.overlay.OverlayPeers;
import io.cloudbridge.control.v1.ControlServiceGrpc;
import io.cloudbridge.control.v1.RegisterResponse;
import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.osgi.framework.BundleContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node's session with its relay as every role of the control client sees it (the part of
 * Tailscale's auto.go that is state): where the session stands ({@link #status}, the current
 * registration, the failures in a row) and the one rule for trying again after a failure. The
 * roles ({@link NodeRegistration}, {@link TokenRenewal}, {@link MapStream},
 * {@link SignallingStream}, {@link Heartbeats}, {@link HomeRelayPublication}, {@link OverlaySync})
 * read and change it here, so that none keeps a copy that could go stale.
 *
 * <p>Most of the work runs on one scheduler thread. The streams' callbacks (on gRPC's threads) and
 * the component's bind methods (on the framework's) read and change some of the state too, which is
 * why those fields are volatile.
 */
final class ControlSession {
    /**
     * One logger name for every role, the component's: log levels are configured per logger name,
     * and an operator's setting for the control client must keep covering all of it.
     */
    static final Logger LOG = LoggerFactory.getLogger(NodeControlClient.class);
    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    // Set at activation, before the scheduler runs anything.
    NodeControlConfig config;
    BundleContext context;
    Path stateFolder;
    /** Writes the refresh token and the relay's pin: the runtime's owner-only writer. */
    io.cloudbridge.api.runtime.RuntimeEnvironment environment;
    RelayPin pin;

    volatile ManagedChannel channel;
    volatile ScheduledExecutorService scheduler;

    /** The overlay last bound, whose key is read again before each registration. */
    volatile OverlayDevice overlay;
    /** This node's WireGuard key, from the overlay; null until an overlay has been seen. */
    volatile NodeKey nodeKey;
    /** OIDC sign-in (device flow or client credentials), when the oidc section configures it. */
    volatile TokenProvider tokens;
    /** The overlay's control-plane membership: this node's addresses and its tenant's peers. */
    volatile OverlayPeers overlayPeers;
    /** Where the map's filter goes: the node's packet filter, when its bundle runs. */
    volatile io.cloudbridge.api.policy.NodeFilters nodeFilters;

    volatile RegisterResponse registration;
    volatile String jwt;
    volatile String status = "starting";
    volatile int failures;
    /** How the relay answered the sign-ins and renewals, for the meters. */
    final AuthMeters authMeters = new AuthMeters();

    CallCredentials bearer() {
        return new CallCredentials() {
            @Override
            public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
                Metadata m = new Metadata();
                m.put(AUTHORIZATION, "Bearer " + jwt); // the newest token at each call
                applier.apply(m);
            }
        };
    }

    ControlServiceGrpc.ControlServiceBlockingStub blocking() {
        ManagedChannel now = channel;
        if (now == null) { // (made on the control plane's thread just after the start)
            throw io.grpc.Status.UNAVAILABLE.withDescription("no channel to the relay yet").asRuntimeException();
        }
        return ControlServiceGrpc.newBlockingStub(now).withDeadlineAfter(15, TimeUnit.SECONDS);
    }

    /** Tries again after a jittered wait that doubles with each failure, up to control.maxBackoffSeconds. */
    void retry(String why, Runnable again, boolean credentialProblem) {
        retry(why, again, credentialProblem, 0);
    }

    /** @param atLeastMillis the relay's retry hint (0: none): waited out even beyond the backoff's cap, with jitter */
    void retry(String why, Runnable again, boolean credentialProblem, long atLeastMillis) {
        failures++;
        long cap = Duration.ofSeconds(config.maxBackoffSeconds()).toMillis();
        long wait = Backoff.retryWait(failures, cap, atLeastMillis, ThreadLocalRandom.current());
        status = why + (credentialProblem ? "" : "; retrying");
        LOG.warn("{}; next attempt in {} ms", why, wait);
        if (!credentialProblem) {
            scheduler.schedule(again, wait, TimeUnit.MILLISECONDS);
        }
    }

    static String describe(StatusRuntimeException e) {
        return describe(e.getStatus());
    }

    static String describe(Status s) {
        return s.getCode() + (s.getDescription() == null ? "" : " (" + s.getDescription() + ")")
                + (s.getCause() == null ? "" : ": " + s.getCause().getMessage());
    }
}
