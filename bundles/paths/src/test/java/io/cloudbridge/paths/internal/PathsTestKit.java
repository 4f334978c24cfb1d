package io.cloudbridge.paths.internal;

import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.api.transport.HomeRelay;
import io.cloudbridge.api.transport.PacketReceiver;
import io.cloudbridge.api.transport.PacketSession;
import io.cloudbridge.api.transport.RelayEndpoint;
import io.cloudbridge.api.transport.RelayTransport;
import io.cloudbridge.api.transport.SessionCredentials;
import io.cloudbridge.api.transport.TransportCounters;
import io.cloudbridge.api.transport.TransportState;
import java.lang.annotation.Annotation;
import java.net.URI;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;

/**
 * What the path layer's tests share: in-test implementations of the relay transport SPI (a
 * transport that reaches endpoints of its one scheme and whose sessions open when the test says
 * so, and a session whose state, packet size and going away the test sets) and the configuration.
 */
final class PathsTestKit {
    private PathsTestKit() {
    }

    static PathsConfig config(long raceMillis, long minRetryMillis, long maxRetryMillis, long handoverMillis) {
        return new PathsConfig() {
            @Override
            public Class<? extends Annotation> annotationType() {
                return PathsConfig.class;
            }

            @Override
            public long raceMillis() {
                return raceMillis;
            }

            @Override
            public long minRetryMillis() {
                return minRetryMillis;
            }

            @Override
            public long maxRetryMillis() {
                return maxRetryMillis;
            }

            @Override
            public long handoverMillis() {
                return handoverMillis;
            }

            @Override
            public boolean socketBatching() {
                return true;
            }
        };
    }

    /** A home relay listening on one endpoint per scheme given. */
    static HomeRelay relay(String... schemes) {
        List<RelayEndpoint> endpoints = new ArrayList<>();
        for (String scheme : schemes) {
            endpoints.add(new RelayEndpoint("relay-1", URI.create(scheme + "://relay.test:443"), Optional.of("sha256:ab")));
        }
        SessionCredentials credentials = new SessionCredentials(NodeKey.of(new byte[NodeKey.LENGTH]), () -> "token");
        return new HomeRelay() {
            @Override
            public List<RelayEndpoint> endpoints() {
                return endpoints;
            }

            @Override
            public SessionCredentials credentials() {
                return credentials;
            }
        };
    }

    /** An attempt as the path layer makes one, not yet connected: no session. */
    static RelayAttempt attempt(RelayTransport t) {
        return new RelayAttempt(t, new RelayAttempt.Inbound() {
            @Override
            public void deliver(ByteBuffer packet) {
            }

            @Override
            public void deliverInBurst(ByteBuffer packet) {
            }

            @Override
            public void burstEnd() {
            }
        }, why -> { });
    }

    /** An attempt whose session is up, its packet size settled. */
    static RelayAttempt connected(TestTransport t) {
        RelayAttempt a = attempt(t);
        a.session = new TestSession(t.name(), null);
        return a;
    }

    /** Polls every 5 ms until the path layer, on its own thread, reaches {@code condition}; fails past five seconds. */
    static void await(String what, BooleanSupplier condition) {
        long end = System.nanoTime() + 5_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("not within 5 s: " + what);
            }
            java.util.concurrent.locks.LockSupport.parkNanos(5_000_000);
        }
    }

    /** A transport reaching the endpoints of its scheme; each open waits until the test connects or fails it. */
    static final class TestTransport implements RelayTransport {
        private final String name;
        private final int priority;
        private final String scheme;
        /** Each open, in order: the stage the path layer waits on, and where the session delivers. */
        final List<CompletableFuture<PacketSession>> opens = new CopyOnWriteArrayList<>();
        final List<PacketReceiver> receivers = new CopyOnWriteArrayList<>();
        final List<Long> openedNanos = new CopyOnWriteArrayList<>();

        TestTransport(String name, int priority, String scheme) {
            this.name = name;
            this.priority = priority;
            this.scheme = scheme;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public int priority() {
            return priority;
        }

        @Override
        public boolean supports(RelayEndpoint relay) {
            return scheme.equals(relay.uri().getScheme());
        }

        @Override
        public CompletionStage<PacketSession> open(RelayEndpoint relay, SessionCredentials credentials, PacketReceiver receiver) {
            CompletableFuture<PacketSession> opening = new CompletableFuture<>();
            openedNanos.add(System.nanoTime());
            receivers.add(receiver);
            opens.add(opening);
            return opening;
        }

        /** The last open succeeds: its session is connected, its packet size settled. */
        TestSession connectLast() {
            return connectLast(true, 1400);
        }

        /** The last open succeeds: its session is connected, its packet size settled or still being found. */
        TestSession connectLast(boolean settled, int maxPacketSize) {
            TestSession s = new TestSession(name, receivers.get(receivers.size() - 1));
            s.settled = settled;
            s.maxPacketSize = maxPacketSize;
            opens.get(opens.size() - 1).complete(s);
            return s;
        }

        /** The last open fails. */
        void failLast(Throwable why) {
            opens.get(opens.size() - 1).completeExceptionally(why);
        }

        @Override
        public String toString() {
            return name;
        }
    }

    /** A connected session that the test changes as a transport's session changes. */
    static final class TestSession implements PacketSession {
        private final String transport;
        private final PacketReceiver receiver;
        volatile TransportState state = TransportState.CONNECTED;
        volatile boolean settled = true;
        volatile boolean goingAway;
        volatile int maxPacketSize = 1400;
        volatile long sent;

        TestSession(String transport, PacketReceiver receiver) {
            this.transport = transport;
            this.receiver = receiver;
        }

        /** The session has found what its path carries (QUIC's path MTU discovery over), and says so as a transport does. */
        void packetSizeFound(int size) {
            maxPacketSize = size;
            settled = true;
            receiver.onStateChanged(this, state, "packet size found: " + size + " bytes");
        }

        /** The relay says the session ends soon, as a transport reports it. */
        void goAway() {
            goingAway = true;
            receiver.onStateChanged(this, state, "the relay lets it go");
        }

        @Override
        public String transportName() {
            return transport;
        }

        @Override
        public RelayEndpoint relay() {
            return new RelayEndpoint("relay-1", URI.create(transport + "://relay.test:443"), Optional.empty());
        }

        @Override
        public TransportState state() {
            return state;
        }

        @Override
        public TransportCounters counters() {
            return new TransportCounters(sent, sent * 100, 0, 0, 0);
        }

        @Override
        public int maxPacketSize() {
            return maxPacketSize;
        }

        @Override
        public boolean packetSizeSettled() {
            return settled;
        }

        @Override
        public boolean goingAway() {
            return goingAway;
        }

        @Override
        public boolean send(NodeKey destination, ByteBuffer packet) {
            if (state != TransportState.CONNECTED) {
                return false;
            }
            sent++;
            return true;
        }

        @Override
        public void close() {
            state = TransportState.CLOSED;
        }
    }
}
