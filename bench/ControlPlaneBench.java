// The client side of bench/control-plane.sh: registration rate and map fan-out against a real relay.
// Run by the script with the JDK's single-file source launcher; see the script for what it measures.
//
//   java -cp CLASSPATH bench/ControlPlaneBench.java --port P --key cbk_... --relay-pid PID
//        [--nodes 10000] [--watchers 250,500,1000] [--rounds 20] [--warmup 5] [--concurrency 64] [--full-maps 8]

import com.google.protobuf.ByteString;
import io.cloudbridge.control.v1.ControlServiceGrpc;
import io.cloudbridge.control.v1.HeartbeatRequest;
import io.cloudbridge.control.v1.NetworkMapUpdate;
import io.cloudbridge.control.v1.NodeInfo;
import io.cloudbridge.control.v1.NodeStatus;
import io.cloudbridge.control.v1.Peer;
import io.cloudbridge.control.v1.RegisterRequest;
import io.cloudbridge.control.v1.RegisterResponse;
import io.cloudbridge.control.v1.WatchNetworkMapRequest;
import io.grpc.CallCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;

public class ControlPlaneBench {
    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    /** The relay takes 16 calls at once per connection: registrations use as many connections as that needs. */
    static final int CALLS_PER_CHANNEL = 16;
    /**
     * Watchers per connection: the relay takes 16 calls at once per connection (a node needs a
     * handful), so the watchers, each a long-lived stream, share connections 16 to one. (Before
     * the relay had that limit the bench put all watchers on 8 connections.)
     */
    static final int WATCHERS_PER_CHANNEL = CALLS_PER_CHANNEL;
    static int WATCH_CHANNELS;
    /** Full maps being delivered at once while watchers connect (--full-maps): bounds the relay's outbound buffers. */
    static int FULL_MAPS_IN_FLIGHT = 8;
    static final long TICKS = Long.getLong("clk.tck", 100);
    static long RELAY_PID;

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            a.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        int port = Integer.parseInt(a.get("port"));
        String key = a.get("key");
        long relayPid = Long.parseLong(a.get("relay-pid"));
        RELAY_PID = relayPid;
        String warmKey = a.get("warm-key");
        int warmNodes = warmKey == null ? 0 : Integer.parseInt(a.getOrDefault("warm-nodes", "0"));
        int nodes = Integer.parseInt(a.getOrDefault("nodes", "10000"));
        int[] watcherCounts = Arrays.stream(a.getOrDefault("watchers", "250,500,1000").split(",")).mapToInt(Integer::parseInt)
                .sorted().toArray();
        int rounds = Integer.parseInt(a.getOrDefault("rounds", "20"));
        int warmup = Integer.parseInt(a.getOrDefault("warmup", "5"));
        int concurrency = Integer.parseInt(a.getOrDefault("concurrency", "64"));
        FULL_MAPS_IN_FLIGHT = Integer.parseInt(a.getOrDefault("full-maps", "8"));
        int policyRules = Integer.parseInt(a.getOrDefault("policy-rules", "0"));
        Path admin = a.containsKey("admin-socket") ? Path.of(a.get("admin-socket")) : null;
        int maxWatchers = watcherCounts[watcherCounts.length - 1];
        WATCH_CHANNELS = (maxWatchers + WATCHERS_PER_CHANNEL - 1) / WATCHERS_PER_CHANNEL;
        if (maxWatchers >= nodes) {
            throw new IllegalArgumentException("watchers (" + maxWatchers + ") must be fewer than nodes (" + nodes + ")");
        }
        SslContext tls = GrpcSslContexts.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE).build();

        // ---- 1. registration ----
        // A relay that has run a while: WARM_NODES registrations in a tenant of their own first, so
        // that the measured run is not the JIT compiler's (it took a third of a cold relay's CPU).
        if (warmNodes > 0) {
            Registrations warm = registerAll(port, tls, warmKey, randomKeys(warmNodes), concurrency);
            System.out.printf("%nwarm-up: %d registrations in another tenant, %.0f/s, relay CPU %.2f ms/reg%n",
                    warmNodes - warm.failed, warm.rate(), warm.relayCpuMs(relayPid));
            if (warm.failed > 0) {
                System.out.printf("  FAILED: %d registrations; first: %s%n", warm.failed, warm.firstFailure);
                System.exit(2);
            }
        }
        Registrations reg = registerAll(port, tls, key, randomKeys(nodes), concurrency);
        String[] nodeIds = reg.nodeIds;
        String[] jwts = reg.jwts;
        long[] sortedCalls = reg.callNanos.clone();
        Arrays.sort(sortedCalls);
        System.out.println();
        System.out.printf("registration: %d nodes, %d in flight over %d channels%n", nodes, concurrency,
                channelsFor(concurrency));
        System.out.printf("  %-12s %10s %12s %12s %12s %16s %17s %10s%n", "registered", "seconds", "per second", "call p50 ms",
                "call p99 ms", "relay CPU ms/reg", "client CPU ms/reg", "rate/1000");
        System.out.printf("  %-12d %10.2f %12.0f %12.1f %12.1f %16.2f %17.2f %10.2f%n", nodes - reg.failed, reg.nanos / 1e9, reg.rate(),
                pct(sortedCalls, 0.50) / 1e6, pct(sortedCalls, 0.99) / 1e6, reg.relayCpuMs(relayPid),
                reg.selfCpuTicks * 1000.0 / TICKS / nodes, reg.rate() / 1000);
        if (reg.failed > 0) {
            System.out.printf("  FAILED: %d registrations; first: %s%n", reg.failed, reg.firstFailure);
            System.exit(2);
        }

        // ---- 1b. an access policy of POLICY_RULES rules over the tenant, compiled and put in force ----
        AtomicInteger filterBytes = new AtomicInteger();
        if (policyRules > 0) {
            long c0 = cpuTicks(relayPid);
            long t0 = System.nanoTime();
            String out = admin(admin, policyFile(policyRules, nodes, 0).toString());
            long nanos = System.nanoTime() - t0;
            System.out.printf("%npolicy: %d rules, %d nodes: relay:policy set (parse, tests, compile, store, no watcher yet)"
                    + " %.0f ms, relay CPU %.0f ms; %s", policyRules, nodes, nanos / 1e6,
                    (cpuTicks(relayPid) - c0) * 1000.0 / TICKS, out);
        }

        // ---- 2. and 3. fan-out ----
        int changer = nodes - 1; // not a watcher: the node whose heartbeats change the map
        List<ManagedChannel> watchChannels = new ArrayList<>();
        for (int i = 0; i < WATCH_CHANNELS; i++) {
            watchChannels.add(NettyChannelBuilder.forAddress("127.0.0.1", port).sslContext(tls)
                    .maxInboundMessageSize(64 << 20).directExecutor().build());
        }
        ManagedChannel hbChannel = NettyChannelBuilder.forAddress("127.0.0.1", port).sslContext(tls).build();
        ControlServiceGrpc.ControlServiceBlockingStub hb = ControlServiceGrpc.newBlockingStub(hbChannel)
                .withCallCredentials(bearer(jwts[changer]));
        AtomicReference<Round> current = new AtomicReference<>();
        AtomicInteger streamErrors = new AtomicInteger();
        AtomicReference<String> firstStreamError = new AtomicReference<>();
        AtomicInteger badFullMaps = new AtomicInteger();
        AtomicInteger fullMapBytes = new AtomicInteger();
        Semaphore fullMaps = new Semaphore(FULL_MAPS_IN_FLIGHT);
        int opened = 0;
        int endpointCounter = 0;
        List<String[]> rows = new ArrayList<>();
        List<Integer> counts = new ArrayList<>();
        List<Double> cpuPerChange = new ArrayList<>();
        List<Double> spreadP50 = new ArrayList<>();
        for (int count : watcherCounts) {
            // Open watchers up to `count`, each waiting for its full map.
            CountDownLatch full = new CountDownLatch(count - opened);
            long openStart = System.nanoTime();
            long openCpu0 = cpuTicks(relayPid);
            for (int w = opened; w < count; w++) {
                fullMaps.acquire();
                int idx = w;
                String self = nodeIds[w];
                String changerId = nodeIds[changer];
                ControlServiceGrpc.newStub(watchChannels.get(w / WATCHERS_PER_CHANNEL)).withCallCredentials(bearer(jwts[w]))
                        .watchNetworkMap(WatchNetworkMapRequest.newBuilder().setKnownVersion(0).build(),
                                new StreamObserver<NetworkMapUpdate>() {
                                    boolean gotFull;

                                    @Override
                                    public void onNext(NetworkMapUpdate u) {
                                        long now = System.nanoTime();
                                        if (u.hasFilter()) {
                                            filterBytes.compareAndSet(0, u.getFilter().getSerializedSize());
                                            Round r = current.get();
                                            if (r != null && r.endpoint.equals("policy " + u.getFilter().getPolicyVersion())) {
                                                r.arrived(idx, now);
                                            }
                                        }
                                        if (u.hasFull()) {
                                            fullMapBytes.compareAndSet(0, u.getSerializedSize());
                                            if (u.getFull().getPeersCount() != nodes - 1) {
                                                badFullMaps.incrementAndGet();
                                            }
                                            if (!gotFull) {
                                                gotFull = true;
                                                fullMaps.release();
                                                full.countDown();
                                            }
                                        } else if (u.hasUpsert()) {
                                            Peer p = u.getUpsert();
                                            Round r = current.get();
                                            if (r != null && p.getNodeId().equals(changerId) && p.getEndpointsList().contains(r.endpoint)) {
                                                r.arrived(idx, now);
                                            }
                                        }
                                    }

                                    @Override
                                    public void onError(Throwable t) {
                                        streamErrors.incrementAndGet();
                                        firstStreamError.compareAndSet(null, "watcher " + idx + " (" + self + "): " + Status.fromThrowable(t));
                                        if (!gotFull) {
                                            gotFull = true;
                                            fullMaps.release();
                                            full.countDown();
                                        }
                                    }

                                    @Override
                                    public void onCompleted() {
                                        onError(Status.UNAVAILABLE.withDescription("stream ended by the relay").asRuntimeException());
                                    }
                                });
            }
            if (!full.await(30, TimeUnit.MINUTES)) {
                throw new IllegalStateException("full maps not delivered to all " + count + " watchers");
            }
            long openNanos = System.nanoTime() - openStart;
            long openCpu = cpuTicks(relayPid) - openCpu0;
            int newWatchers = count - opened;
            opened = count;
            if (streamErrors.get() > 0 || badFullMaps.get() > 0) {
                System.out.printf("  FAILED at %d watchers: %d stream errors (first: %s), %d full maps of the wrong size%n", count,
                        streamErrors.get(), firstStreamError.get(), badFullMaps.get());
                break;
            }

            // Rounds: one heartbeat with a new endpoint, delivered as one upsert to every watcher.
            List<Long> perWatcher = new ArrayList<>();
            long[] all = new long[rounds];
            long[] spread = new long[rounds];
            long[] hbCall = new long[rounds];
            int missing = 0;
            long cpuRounds = 0;
            for (int r = -warmup; r < rounds; r++) {
                String endpoint = "198.51.100." + (1 + endpointCounter++ % 254) + ":41641";
                Round round = new Round(endpoint, count);
                current.set(round);
                long c0 = cpuTicks(relayPid);
                round.t0 = System.nanoTime();
                hb.withDeadlineAfter(30, TimeUnit.SECONDS).heartbeat(HeartbeatRequest.newBuilder()
                        .setStatus(NodeStatus.newBuilder().addEndpoints(endpoint)).build());
                long hbNanos = System.nanoTime() - round.t0;
                boolean complete = round.done.await(30, TimeUnit.SECONDS);
                long c1 = cpuTicks(relayPid);
                current.set(null);
                if (r < 0) {
                    continue; // warm-up
                }
                cpuRounds += c1 - c0;
                hbCall[r] = hbNanos;
                long first = Long.MAX_VALUE;
                long last = 0;
                for (int w = 0; w < count; w++) {
                    long at = round.arrivals.get(w);
                    if (at == 0) {
                        missing++;
                        continue;
                    }
                    perWatcher.add(at - round.t0);
                    first = Math.min(first, at - round.t0);
                    last = Math.max(last, at - round.t0);
                }
                all[r] = complete ? last : Long.MAX_VALUE;
                spread[r] = complete ? last - first : Long.MAX_VALUE;
                Thread.sleep(20); // a pause between changes, so that each is timed on a quiet relay
            }
            long[] lat = perWatcher.stream().mapToLong(Long::longValue).sorted().toArray();
            Arrays.sort(all);
            Arrays.sort(spread);
            Arrays.sort(hbCall);
            double allP99 = ms(pct(all, 0.99));
            double cpuMsPerRound = cpuRounds * 1000.0 / TICKS / rounds;
            counts.add(count);
            cpuPerChange.add(cpuMsPerRound);
            spreadP50.add(ms(pct(spread, 0.50)));
            rows.add(new String[] {
                    String.valueOf(count),
                    String.format("%.1f", openNanos / 1e9),
                    String.format("%.1f", newWatchers / (openNanos / 1e9)),
                    String.format("%.1f", openCpu * 1000.0 / TICKS / newWatchers),
                    String.format("%.1f", ms(pct(hbCall, 0.50))),
                    String.format("%.1f", ms(pct(lat, 0.50))),
                    String.format("%.1f", ms(pct(lat, 0.99))),
                    String.format("%.1f", ms(pct(all, 0.50))),
                    String.format("%.1f", allP99),
                    String.format("%.2f", allP99 / 500),
                    String.format("%.1f", ms(pct(spread, 0.50))),
                    String.format("%.1f", cpuMsPerRound),
                    String.valueOf(missing) });
        }

        System.out.println();
        System.out.printf("fan-out: %d peers in the map (a full map is %.2f MB); %d changes per watcher count (after %d warm-up),"
                + " watchers over %d channels%n", nodes, fullMapBytes.get() / 1e6, rounds, warmup, WATCH_CHANNELS);
        String fmt = "  %8s %7s %8s %10s %7s %9s %9s %8s %8s %8s %10s %10s %7s%n";
        System.out.printf(fmt, "watchers", "open s", "maps/s", "CPU ms/map", "hb ms", "each p50", "each p99", "all p50",
                "all p99", "p99/500", "spread p50", "CPU ms/ch", "missed");
        for (String[] row : rows) {
            System.out.printf(fmt, (Object[]) row);
        }
        System.out.println("  open: connecting the new watchers and delivering their full maps (" + FULL_MAPS_IN_FLIGHT
                + " at a time); hb: the heartbeat call; each: a watcher's delivery of a change, from just before the heartbeat;"
                + " all: until every watcher has it; spread: first to last watcher; ms; CPU: the relay's user+system time"
                + " per full map and per change");
        for (int i = 1; i < counts.size(); i++) {
            int dw = counts.get(i) - counts.get(i - 1);
            System.out.printf("  %d -> %d watchers: %+.1f us relay CPU and %+.1f us spread per added watcher and change%n",
                    counts.get(i - 1), counts.get(i), (cpuPerChange.get(i) - cpuPerChange.get(i - 1)) * 1000 / dw,
                    (spreadP50.get(i) - spreadP50.get(i - 1)) * 1000 / dw);
        }
        if (policyRules > 0 && streamErrors.get() == 0) {
            // A new version of the policy (every deny rule on another port: every node's filter
            // changes) while the largest number of watchers is open: how long until each has it.
            long[] each = new long[opened];
            List<Long> alls = new ArrayList<>();
            long cpu = 0;
            int versions = Math.max(1, Math.min(5, rounds));
            int missing = 0;
            List<Long> eachAll = new ArrayList<>();
            for (int v = 0; v < versions; v++) {
                Path file = policyFile(policyRules, nodes, v + 1);
                Round round = new Round("policy " + (v + 2), opened);
                current.set(round);
                long c0 = cpuTicks(relayPid);
                round.t0 = System.nanoTime();
                admin(admin, file.toString());
                boolean complete = round.done.await(60, TimeUnit.SECONDS);
                cpu += cpuTicks(relayPid) - c0;
                current.set(null);
                long last = 0;
                for (int w = 0; w < opened; w++) {
                    long at = round.arrivals.get(w);
                    if (at == 0) {
                        missing++;
                        continue;
                    }
                    eachAll.add(at - round.t0);
                    last = Math.max(last, at - round.t0);
                }
                alls.add(complete ? last : Long.MAX_VALUE);
                Thread.sleep(200);
            }
            long[] lat = eachAll.stream().mapToLong(Long::longValue).sorted().toArray();
            long[] allSorted = alls.stream().mapToLong(Long::longValue).sorted().toArray();
            System.out.printf("policy change: %d versions of %d rules, %d watchers of %d nodes: each watcher's new filter p50 %.0f ms,"
                    + " p99 %.0f ms; all watchers p50 %.0f ms, max %.0f ms (from the admin command's start);"
                    + " relay CPU %.0f ms per change; %d missed%n", versions, policyRules, opened, nodes, ms(pct(lat, 0.50)),
                    ms(pct(lat, 0.99)), ms(pct(allSorted, 0.50)), ms(allSorted[allSorted.length - 1]), cpu * 1000.0 / TICKS / versions,
                    missing);
            System.out.printf("policy bytes in a node's map: its filter %d bytes%n", filterBytes.get());
        }
        System.out.printf("relay after the run: %s%n", rss(relayPid));
        boolean failedStreams = streamErrors.get() > 0 || badFullMaps.get() > 0;
        if (failedStreams) {
            System.out.printf("FAILED: %d stream errors (first: %s), %d full maps of the wrong size%n", streamErrors.get(),
                    firstStreamError.get(), badFullMaps.get());
        }
        hbChannel.shutdownNow();
        watchChannels.forEach(ManagedChannel::shutdownNow);
        System.exit(failedStreams ? 3 : 0);
    }

    /** One change: when each watcher saw it. */
    static final class Round {
        final String endpoint;
        final AtomicLongArray arrivals;
        final AtomicInteger remaining;
        final CountDownLatch done = new CountDownLatch(1);
        volatile long t0;

        Round(String endpoint, int watchers) {
            this.endpoint = endpoint;
            this.arrivals = new AtomicLongArray(watchers);
            this.remaining = new AtomicInteger(watchers);
        }

        void arrived(int watcher, long now) {
            if (watcher < arrivals.length() && arrivals.compareAndSet(watcher, 0, now) && remaining.decrementAndGet() == 0) {
                done.countDown();
            }
        }
    }

    static byte[][] randomKeys(int count) {
        SecureRandom random = new SecureRandom();
        byte[][] keys = new byte[count][32];
        for (byte[] k : keys) {
            random.nextBytes(k);
        }
        return keys;
    }

    /** One registration run: what each node got, and what it cost. */
    static final class Registrations {
        String[] nodeIds;
        String[] jwts;
        long[] callNanos;
        long nanos;
        long relayCpuTicks;
        long selfCpuTicks;
        int failed;
        Throwable firstFailure;

        double rate() {
            return (nodeIds.length - failed) / (nanos / 1e9);
        }

        double relayCpuMs(long relayPid) {
            return relayCpuTicks * 1000.0 / TICKS / nodeIds.length;
        }
    }

    static int channelsFor(int concurrency) {
        return (concurrency + CALLS_PER_CHANNEL - 1) / CALLS_PER_CHANNEL;
    }

    /** Registers one node per key with the pre-auth key, {@code concurrency} calls in flight over a few channels. */
    static Registrations registerAll(int port, SslContext tls, String key, byte[][] keys, int concurrency) throws Exception {
        int nodes = keys.length;
        List<ManagedChannel> regChannels = new ArrayList<>();
        for (int i = 0; i < channelsFor(concurrency); i++) {
            // directExecutor: the load generator's callbacks only record and release, so they run on
            // the transport thread instead of costing a thread handoff each (the client shares the cores).
            regChannels.add(NettyChannelBuilder.forAddress("127.0.0.1", port).sslContext(tls).directExecutor().build());
        }
        for (ManagedChannel c : regChannels) { // TLS handshakes before the clock starts
            c.getState(true);
        }
        long ready = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (regChannels.stream().anyMatch(c -> c.getState(false) != io.grpc.ConnectivityState.READY) && System.nanoTime() < ready) {
            Thread.onSpinWait();
        }
        Registrations out = new Registrations();
        out.nodeIds = new String[nodes];
        out.jwts = new String[nodes];
        out.callNanos = new long[nodes];
        AtomicInteger failed = new AtomicInteger();
        AtomicReference<Throwable> firstFailure = new AtomicReference<>();
        Semaphore inFlight = new Semaphore(concurrency);
        CountDownLatch registered = new CountDownLatch(nodes);
        long relayPid = RELAY_PID;
        long cpu0 = cpuTicks(relayPid);
        long self0 = cpuTicks(ProcessHandle.current().pid());
        long start = System.nanoTime();
        for (int i = 0; i < nodes; i++) {
            inFlight.acquire();
            int n = i;
            long t0 = System.nanoTime();
            RegisterRequest req = RegisterRequest.newBuilder().setPreAuthKey(key).setNode(NodeInfo.newBuilder()
                    .setWireguardPublicKey(ByteString.copyFrom(keys[n])).setHostname("n" + n).setOs("linux/amd64")).build();
            ControlServiceGrpc.newStub(regChannels.get(n % regChannels.size())).withDeadlineAfter(60, TimeUnit.SECONDS)
                    .register(req, new StreamObserver<RegisterResponse>() {
                        @Override
                        public void onNext(RegisterResponse r) {
                            out.nodeIds[n] = r.getNodeId();
                            out.jwts[n] = r.getToken().getJwt();
                        }

                        @Override
                        public void onError(Throwable t) {
                            failed.incrementAndGet();
                            firstFailure.compareAndSet(null, t);
                            done();
                        }

                        @Override
                        public void onCompleted() {
                            done();
                        }

                        private void done() {
                            out.callNanos[n] = System.nanoTime() - t0;
                            inFlight.release();
                            registered.countDown();
                        }
                    });
        }
        registered.await();
        out.nanos = System.nanoTime() - start;
        out.relayCpuTicks = cpuTicks(relayPid) - cpu0;
        out.selfCpuTicks = cpuTicks(ProcessHandle.current().pid()) - self0;
        out.failed = failed.get();
        out.firstFailure = firstFailure.get();
        regChannels.forEach(ManagedChannel::shutdownNow);
        return out;
    }

    /**
     * A policy of {@code rules} rules over nodes n0..n(nodes-1): groups of ten nodes, a deny per
     * group (group i may not reach group i+1 on one port, which {@code variant} shifts so that a new
     * version changes every node's filter), then everyone may reach everyone (so that each full map
     * still holds every peer).
     */
    static Path policyFile(int rules, int nodes, int variant) throws Exception {
        int groups = Math.min(rules - 1, Math.max(2, nodes / 10));
        StringBuilder y = new StringBuilder("groups:\n");
        for (int g = 0; g < groups; g++) {
            y.append("  group:g").append(g).append(": [");
            for (int n = g * 10; n < Math.min(nodes, g * 10 + 10); n++) {
                y.append(n > g * 10 ? ", " : "").append("node:n").append(n);
            }
            y.append("]\n");
        }
        y.append("rules:\n");
        for (int r = 0; r < rules - 1; r++) {
            y.append("  - {name: d").append(r).append(", action: deny, src: [group:g").append(r % groups).append("], dst: [group:g")
                    .append((r + 1) % groups).append("], proto: tcp, ports: [").append(1000 + (r + variant) % 60000).append("]}\n");
        }
        y.append("  - {name: everyone, action: accept, src: ['*'], dst: ['*']}\n");
        Path file = Files.createTempFile("bench-policy", ".yaml");
        Files.writeString(file, y);
        file.toFile().deleteOnExit();
        return file;
    }

    /** relay:policy set on the relay, through its admin socket, from this process (no client JVM to start). */
    static String admin(Path socket, String file) throws Exception {
        try (io.cloudbridge.boot.admin.AdminClient client = io.cloudbridge.boot.admin.AdminClient.connect(socket)) {
            io.cloudbridge.boot.admin.AdminProtocol.Response r = client.execute("relay:policy set --tenant bench " + file);
            if (r.status() != io.cloudbridge.boot.admin.AdminProtocol.OK) {
                throw new IllegalStateException("relay:policy set failed: " + r.output());
            }
            return r.output();
        }
    }

    static CallCredentials bearer(String jwt) {
        return new CallCredentials() {
            @Override
            public void applyRequestMetadata(RequestInfo info, Executor executor, MetadataApplier applier) {
                Metadata m = new Metadata();
                m.put(AUTHORIZATION, "Bearer " + jwt);
                applier.apply(m);
            }
        };
    }

    static double ms(long nanos) {
        return nanos == Long.MAX_VALUE ? Double.NaN : nanos / 1e6;
    }

    /** Nearest rank. */
    static long pct(long[] sorted, double p) {
        if (sorted.length == 0) {
            return 0;
        }
        return sorted[Math.max(0, (int) Math.ceil(p * sorted.length) - 1)];
    }

    /** utime + stime of a process, in clock ticks. */
    static long cpuTicks(long pid) throws Exception {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]); // fields 14 and 15 of stat(5)
    }

    static String rss(long pid) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS")) {
                return line.replaceAll("\\s+", " ");
            }
        }
        return "?";
    }
}
