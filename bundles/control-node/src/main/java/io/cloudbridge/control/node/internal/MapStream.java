package io.cloudbridge.control.node.internal;

import io.cloudbridge.api.overlay.OverlayPeers;
import io.cloudbridge.control.v1.ControlServiceGrpc;
import io.cloudbridge.control.v1.NetworkMapUpdate;
import io.cloudbridge.control.v1.WatchNetworkMapRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import org.slf4j.Logger;

/**
 * The network-map stream (the role of Tailscale's map.go): the relay's map of this node's tenant,
 * a whole map first and deltas after, kept current in {@link NetworkMap}.
 *
 * <p>Stages: open (under the node token, asking to continue from the version held, and cancelling
 * any earlier stream); each update applied to the map, then the overlay brought in line; at the
 * end, one of three: the relay removed this node (it stops, signed out, its overlay cleared), the
 * stream's channel was replaced on purpose (reopened at once), or the stream broke (reopened after
 * the session's backoff, no sooner than the relay asks). One stream at a time: the callbacks of a
 * replaced one are ignored.
 */
final class MapStream {
    private static final Logger LOG = ControlSession.LOG;
    static final String MAP_STREAM_ENDED = "map stream ended";

    private final ControlSession session;
    private final NetworkMap map;
    private final OverlaySync overlaySync;
    private final HomeRelayPublication homeRelay;

    /** The map stream now: one at a time, and callbacks of a replaced one are ignored. */
    private volatile ClientCallStreamObserver<WatchNetworkMapRequest> mapCall;

    MapStream(ControlSession session, NetworkMap map, OverlaySync overlaySync, HomeRelayPublication homeRelay) {
        this.session = session;
        this.map = map;
        this.overlaySync = overlaySync;
        this.homeRelay = homeRelay;
    }

    /** Puts the filter the map holds in force on the node, when it has one and a filter is there to take it. */
    void installFilter() {
        io.cloudbridge.api.policy.NodeFilters filters = session.nodeFilters;
        io.cloudbridge.api.policy.NodeFilter f = map.filter();
        if (filters != null && f != null) {
            io.cloudbridge.api.policy.NodeFilter inForce = filters.installed();
            if (map.filterAssumed() && inForce != null && !inForce.open()) {
                // A relay that sends no filter (one from before policies) must not open a node that
                // enforces its tenant's policy: the policy in force stays.
                LOG.warn("the relay sent no filter; policy version {} stays in force", inForce.policyVersion());
                return;
            }
            try {
                filters.install(f);
            } catch (RuntimeException e) {
                LOG.warn("the node's filter did not take policy version {}: {}", f.policyVersion(), e.toString());
            }
        }
    }

    void watch() {
        ClientCallStreamObserver<WatchNetworkMapRequest> previous = mapCall;
        mapCall = null; // before the cancel: its callbacks must find themselves replaced
        if (previous != null) {
            previous.cancel("the map stream is opened again", null);
        }
        ManagedChannel on = session.channel;
        ControlServiceGrpc.newStub(on).withCallCredentials(session.bearer()).watchNetworkMap(
                WatchNetworkMapRequest.newBuilder().setKnownVersion(map.version()).build(), new Watch(on));
    }

    /** One opening of the stream, on the channel it was opened on. */
    final class Watch implements ClientResponseObserver<WatchNetworkMapRequest, NetworkMapUpdate> {
        private final ManagedChannel on;
        private ClientCallStreamObserver<WatchNetworkMapRequest> mine;

        Watch(ManagedChannel on) {
            this.on = on;
        }

        @Override
        public void beforeStart(ClientCallStreamObserver<WatchNetworkMapRequest> requests) {
            mine = requests;
            mapCall = requests; // before any callback can run
        }

        @Override
        public void onNext(NetworkMapUpdate u) {
            if (mapCall != mine) {
                return; // a replaced stream's last words
            }
            session.failures = 0; // the stream works again: the next break retries at once, not after the last backoff
            if (session.registration != null && session.status.startsWith(MAP_STREAM_ENDED)) {
                // Back after a break (the relay ends a node's map stream when it rotates its
                // key): cb:whoami says registered again, not the break that is over.
                session.status = "registered";
            }
            if (map.apply(u)) {
                installFilter();
            }
            overlaySync.queue();
        }

        @Override
        public void onError(Throwable t) {
            if (mapCall != mine) {
                return; // replaced on purpose: its successor is open
            }
            Status s = Status.fromThrowable(t);
            if (s.getCode() == Status.Code.UNAUTHENTICATED && "node removed".equals(s.getDescription())) {
                session.registration = null;
                session.status = "removed by the relay";
                homeRelay.withdraw();
                OverlayPeers o = session.overlayPeers;
                if (o != null) {
                    o.clear();
                }
                LOG.warn("the relay removed this node; it stays signed out until it gets a new credential");
                return;
            }
            if (on != session.channel) {
                // Its channel was replaced on purpose (the node moved): reopen on the new one
                // now, the map must not wait out a backoff meant for a failing relay.
                LOG.info("map stream reopened on the new channel to the relay");
                session.scheduler.execute(() -> watch());
                return;
            }
            long pushback = Backoff.pushbackMillis(t);
            session.scheduler.execute(() -> session.retry(MAP_STREAM_ENDED + ": " + ControlSession.describe(s), () -> watch(), false, pushback));
        }

        @Override
        public void onCompleted() {
            if (mapCall == mine) {
                session.scheduler.execute(() -> session.retry(MAP_STREAM_ENDED + " by the relay", () -> watch(), false));
            }
        }
    }
}
