package io.cloudbridge.ice.internal;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.ice4j.message.Message;
import org.ice4j.message.MessageFactory;
import org.ice4j.message.Request;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One allocation on a TURN server (RFC 8656), made from the overlay's own socket: its relayed
 * address is one more local candidate of that socket, and a pair through it carries WireGuard's
 * packets in ChannelData where nothing else gets through. The long-term credentials come from the
 * configuration; the allocation, its channels (which also hold the permissions) and their refreshes
 * run on the engine's thread, while {@link #send} and {@link #unwrapChannelData} serve the data
 * path from any thread.
 */
final class TurnClient implements IceEngine.Base {
    private static final Logger LOG = LoggerFactory.getLogger(TurnClient.class);
    private static final SecureRandom RANDOM = new SecureRandom();
    static final int FIRST_CHANNEL = 0x4000;
    static final int LAST_CHANNEL = 0x4FFF;
    /** Channels live 10 min and their permissions 5 (RFC 8656 12, 9): bound again well before either ends. */
    private static final long CHANNEL_REFRESH_NANOS = TimeUnit.MINUTES.toNanos(4);
    /** Retransmissions 250, 500, 1000, 2000 ms apart (RFC 8489 6.2.1, shortened: the server is usually near). */
    private static final int MAX_TRANSMISSIONS = 5;

    private enum Kind { ALLOCATE, REFRESH, DEALLOCATE, CHANNEL_BIND }

    /**
     * A request waiting for its answer: what it was, the bytes to retransmit, the peer and channel
     * of a ChannelBind, the allocation it belongs to (an answer or a timeout of an earlier one
     * must not act on the current one), whether it was signed, and how many challenges (401, 438)
     * it has met.
     */
    private record Outstanding(Kind kind, byte[] bytes, InetSocketAddress peer, int channel, int generation, boolean signed,
            int challenges, int transmissions, long sentNanos) {
        Outstanding again(long now) {
            return new Outstanding(kind, bytes, peer, channel, generation, signed, challenges, transmissions + 1, now);
        }
    }

    private static final class Channel {
        final int number;
        long boundNanos = -1;
        long requestedNanos;
        boolean inFlight;
        /** After a lost or refused bind, when to try again (with the same number: a peer keeps its channel). */
        long retryAtNanos = -1;

        Channel(int number) {
            this.number = number;
        }
    }

    final InetSocketAddress server;
    private final String username;
    private final String password;
    private final IceWire wire;
    private final IceEngine.Socket socket;
    private final Runnable onAllocated;
    private final long refreshNanos;
    private String realm;
    private byte[] nonce;
    private byte[] key;
    private volatile InetSocketAddress relayed;
    /** Which allocation the requests belong to: a new one starts a new generation. */
    private int generation;
    private long refreshAtNanos = -1;
    private long retryAtNanos = -1;
    private long retryDelayNanos = TimeUnit.SECONDS.toNanos(1);
    /** A 437 on Allocate: an earlier allocation of this 5-tuple is being given back; allocate when that is answered. */
    private boolean releasingEarlier;
    private volatile String state = "allocating";
    private final Map<String, Outstanding> outstanding = new HashMap<>();
    private final Map<InetSocketAddress, Channel> channels = new HashMap<>();
    /** What the data path reads: bound channels both ways. */
    private final Map<InetSocketAddress, Integer> channelTo = new ConcurrentHashMap<>();
    private final Map<Integer, InetSocketAddress> peerOn = new ConcurrentHashMap<>();
    private int nextChannel = FIRST_CHANNEL;

    /** @param refresh how often the allocation is refreshed (the engine's timers: 25 s, shorter in tests) */
    TurnClient(InetSocketAddress server, String username, String password, IceWire wire, IceEngine.Socket socket, java.time.Duration refresh,
            Runnable onAllocated) {
        this.refreshNanos = refresh.toNanos();
        this.server = server;
        this.username = username;
        this.password = password;
        this.wire = wire;
        this.socket = socket;
        this.onAllocated = onAllocated;
    }

    /** The relayed address, once allocated. */
    InetSocketAddress relayedAddress() {
        return relayed;
    }

    @Override
    public io.cloudbridge.api.mesh.PathKind kind() {
        return io.cloudbridge.api.mesh.PathKind.TURN;
    }

    @Override
    public String describe() {
        InetSocketAddress r = relayed;
        return "relay " + (r == null ? "?" : r.getAddress().getHostAddress() + ":" + r.getPort());
    }

    @Override
    public void prepare(InetSocketAddress peer, long now) {
        ensureChannel(peer, now);
    }

    String state() {
        return state;
    }

    void start() {
        allocate();
    }

    /** Timers: retransmissions, the allocation's and the channels' refreshes, a new allocation after a failure. */
    void tick(long now) {
        for (Iterator<Map.Entry<String, Outstanding>> it = outstanding.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, Outstanding> e = it.next();
            Outstanding o = e.getValue();
            long rto = TimeUnit.MILLISECONDS.toNanos(250L << Math.min(o.transmissions() - 1, 3));
            if (now - o.sentNanos() < rto) {
                continue;
            }
            if (o.transmissions() >= MAX_TRANSMISSIONS) {
                it.remove();
                if (o.generation() != generation) {
                    continue; // of an earlier allocation
                }
                switch (o.kind()) {
                    case ALLOCATE, REFRESH -> failed("no answer from the TURN server");
                    case DEALLOCATE -> {
                        if (releasingEarlier) {
                            releasingEarlier = false;
                            failed("an earlier allocation of this address could not be given back");
                        }
                    }
                    case CHANNEL_BIND -> bindLater(o, now, TimeUnit.SECONDS.toNanos(5));
                }
                continue;
            }
            e.setValue(o.again(now));
            socket.send(server, ByteBuffer.wrap(o.bytes()));
        }
        if (relayed != null && refreshAtNanos >= 0 && now >= refreshAtNanos) {
            refreshAtNanos = -1;
            send(Kind.REFRESH, null, 0);
        }
        if (relayed == null && !releasingEarlier && retryAtNanos >= 0 && now >= retryAtNanos) {
            retryAtNanos = -1;
            allocate();
        }
        if (relayed == null) {
            return;
        }
        for (Map.Entry<InetSocketAddress, Channel> e : channels.entrySet()) {
            Channel c = e.getValue();
            boolean due = c.boundNanos >= 0 ? now - c.boundNanos > CHANNEL_REFRESH_NANOS && now - c.requestedNanos > CHANNEL_REFRESH_NANOS
                    : c.retryAtNanos >= 0 && now >= c.retryAtNanos;
            if (due && !c.inFlight) {
                bind(e.getKey(), c, now);
            }
        }
    }

    /** A bind that was lost or refused: the channel keeps its number (RFC 8656 12: a peer is bound to one) and is asked for again later. */
    private void bindLater(Outstanding o, long now, long delayNanos) {
        Channel c = channels.get(o.peer());
        if (c != null && c.number == o.channel()) {
            c.inFlight = false;
            c.retryAtNanos = now + delayNanos;
            if (c.boundNanos >= 0) {
                c.boundNanos = now - CHANNEL_REFRESH_NANOS - 1; // still bound at the server for a while: due again at retryAt
            }
        }
    }

    /**
     * Makes sure {@code peer} has a channel (and so a permission, RFC 8656 12): until the server
     * confirms it, datagrams to the peer go in Send indications, which need that permission too.
     */
    void ensureChannel(InetSocketAddress peer, long now) {
        if (relayed == null) {
            return;
        }
        Channel c = channels.get(peer);
        if (c == null) {
            if (nextChannel > LAST_CHANNEL) {
                return; // 4,096 peers' addresses through one allocation: the rest use Send indications
            }
            c = new Channel(nextChannel++);
            channels.put(peer, c);
            bind(peer, c, now);
        }
    }

    private void bind(InetSocketAddress peer, Channel c, long now) {
        c.requestedNanos = now;
        c.inFlight = true;
        c.retryAtNanos = -1;
        send(Kind.CHANNEL_BIND, peer, c.number);
    }

    /**
     * One datagram to {@code peer} through the relay: ChannelData when its channel is bound (4
     * bytes of header), a Send indication before. Any thread; {@code false} when it could not go.
     */
    @Override
    public boolean send(InetSocketAddress peer, ByteBuffer datagram) {
        Integer channel = channelTo.get(peer);
        if (channel != null) {
            ByteBuffer out = ByteBuffer.allocate(4 + datagram.remaining());
            out.putChar((char) (int) channel).putChar((char) datagram.remaining()).put(datagram.duplicate()).flip();
            return socket.send(server, out);
        }
        if (relayed == null) {
            return false;
        }
        byte[] data = new byte[datagram.remaining()];
        datagram.duplicate().get(data);
        return socket.send(server, ByteBuffer.wrap(wire.sendIndication(transactionId(), peer, data)));
    }

    /** The peer a ChannelData datagram came from, with the buffer set to its payload; {@code null} for an unknown channel. */
    InetSocketAddress unwrapChannelData(ByteBuffer datagram) {
        int p = datagram.position();
        InetSocketAddress peer = peerOn.get((int) datagram.getChar(p));
        if (peer != null) {
            int length = datagram.getChar(p + 2);
            datagram.position(p + 4).limit(p + 4 + length);
        }
        return peer;
    }

    /** An answer from the server to one of our requests (already checked to come from it). */
    void onMessage(IceWire.Received m, long now) {
        String tid = HexFormat.of().formatHex(m.message().getTransactionID());
        Outstanding o = outstanding.get(tid);
        if (o == null) {
            return;
        }
        boolean success = (m.type() & 0x0110) == Message.STUN_SUCCESS_RESP;
        if (success && o.signed() && (key == null || !m.signedWith(key))) {
            return; // an answer to a signed request comes signed (RFC 8489 9.2.5): a forgery is ignored, the real one may follow
        }
        outstanding.remove(tid);
        if (o.generation() != generation && o.kind() != Kind.DEALLOCATE) {
            return; // an answer for an earlier allocation
        }
        if (!success) {
            onError(o, m, now);
            return;
        }
        switch (o.kind()) {
            case ALLOCATE -> {
                InetSocketAddress r = m.relayed();
                if (r == null) {
                    failed("the server's answer has no relayed address");
                    return;
                }
                relayed = r;
                retryDelayNanos = TimeUnit.SECONDS.toNanos(1);
                scheduleRefresh(m, now);
                state = "relayed address " + r.getAddress().getHostAddress() + ":" + r.getPort();
                LOG.info("TURN allocation on {}: {}", server, state);
                onAllocated.run();
            }
            case REFRESH -> scheduleRefresh(m, now);
            case CHANNEL_BIND -> {
                Channel c = channels.get(o.peer());
                if (c != null && c.number == o.channel()) {
                    c.inFlight = false;
                    c.boundNanos = now;
                    channelTo.put(o.peer(), c.number);
                    peerOn.put(c.number, o.peer());
                }
            }
            case DEALLOCATE -> {
                if (releasingEarlier) {
                    releasingEarlier = false;
                    allocate(); // the earlier allocation is gone: this one can be made
                }
            }
        }
    }

    private void onError(Outstanding o, IceWire.Received m, long now) {
        int code = m.errorCode();
        if ((code == 401 || code == 438) && m.realm() != null && m.nonce() != null && o.challenges() < 2) {
            // 401: the first request had no credentials, as RFC 8489 9.2 has it; 438: the nonce went
            // stale. Each request meets at most two: a third means the credentials are wrong.
            realm = m.realm();
            nonce = m.nonce();
            key = IceWire.longTermKey(username, realm, password);
            if (o.kind() != Kind.CHANNEL_BIND || channels.containsKey(o.peer())) {
                send(o.kind(), o.peer(), o.channel(), o.challenges() + 1);
            }
            return;
        }
        String why = code + " " + m.errorReason();
        switch (o.kind()) {
            case ALLOCATE -> {
                if (code == 437 && !releasingEarlier) {
                    // An allocation of an earlier run on this 5-tuple (a restart within its
                    // lifetime): given back first; allocated again once the server confirms.
                    releasingEarlier = true;
                    send(Kind.DEALLOCATE, null, 0);
                    state = "releasing an earlier allocation (437)";
                    return;
                }
                failed("refused: " + why);
            }
            case REFRESH -> {
                // Mostly 437: the server forgot this 5-tuple's allocation (its NAT mapping changed,
                // or the server closed the session when an ICMP error came back while the overlay's
                // socket was being re-created). A new allocation, at once; a refusal of that one backs off.
                LOG.info("TURN server {} refused the refresh ({}): allocating again", server, why);
                allocate();
            }
            case CHANNEL_BIND -> {
                LOG.info("TURN server {} refused a channel to {}: {}", server, o.peer(), why);
                bindLater(o, now, TimeUnit.SECONDS.toNanos(30));
                if (outstanding.values().stream().noneMatch(x -> x.kind() == Kind.REFRESH || x.kind() == Kind.ALLOCATE)) {
                    send(Kind.REFRESH, null, 0); // is the allocation still there? A refused refresh allocates again
                }
            }
            case DEALLOCATE -> {
                if (releasingEarlier) {
                    releasingEarlier = false;
                    failed("an earlier allocation of this address could not be given back: " + why);
                }
            }
        }
    }

    private void scheduleRefresh(IceWire.Received m, long now) {
        int lifetime = m.lifetime() > 0 ? m.lifetime() : 600;
        // Every 25 s, well within the lifetime: the refresh also keeps the NAT's mapping toward the
        // server (many NATs forget an idle UDP mapping after 30 s), and finds a lost allocation
        // (refused with 437) within 25 s rather than at half the lifetime.
        refreshAtNanos = now + Math.min(TimeUnit.SECONDS.toNanos(Math.max(lifetime / 2, 1)), refreshNanos);
    }

    /** A new allocation: what belonged to the previous one (its requests, channels, relayed address) is forgotten. */
    private void allocate() {
        generation++;
        outstanding.values().removeIf(o -> o.kind() != Kind.DEALLOCATE);
        state = "allocating";
        forgetAllocation();
        send(Kind.ALLOCATE, null, 0);
    }

    private void forgetAllocation() {
        relayed = null;
        refreshAtNanos = -1;
        channels.clear();
        channelTo.clear();
        peerOn.clear();
        nextChannel = FIRST_CHANNEL;
    }

    private void failed(String why) {
        forgetAllocation();
        state = why + "; trying again in " + TimeUnit.NANOSECONDS.toSeconds(retryDelayNanos) + " s";
        LOG.info("TURN server {}: {}", server, state);
        retryAtNanos = System.nanoTime() + retryDelayNanos;
        retryDelayNanos = Math.min(retryDelayNanos * 2, TimeUnit.SECONDS.toNanos(60));
    }

    private void send(Kind kind, InetSocketAddress peer, int channel) {
        send(kind, peer, channel, 0);
    }

    private void send(Kind kind, InetSocketAddress peer, int channel, int challenges) {
        byte[] tid = transactionId();
        Request r = switch (kind) {
            case ALLOCATE -> MessageFactory.createAllocateRequest((byte) 17, false); // REQUESTED-TRANSPORT: UDP
            case REFRESH -> MessageFactory.createRefreshRequest(600);
            case DEALLOCATE -> MessageFactory.createRefreshRequest(0);
            // XOR-PEER-ADDRESS is XORed with the transaction id the request goes with.
            case CHANNEL_BIND -> MessageFactory.createChannelBindRequest((char) channel,
                    new org.ice4j.TransportAddress(peer, org.ice4j.Transport.UDP), tid);
        };
        byte[] bytes = wire.turnRequest(r, tid, username, realm, nonce, key);
        long now = System.nanoTime();
        outstanding.put(HexFormat.of().formatHex(tid), new Outstanding(kind, bytes, peer, channel, generation, realm != null, challenges, 1,
                now));
        socket.send(server, ByteBuffer.wrap(bytes));
    }

    /** Gives the allocation back (a refresh with lifetime 0), so that the server frees its port now rather than in 10 min. */
    void release() {
        boolean allocating = outstanding.values().stream().anyMatch(o -> o.kind() == Kind.ALLOCATE);
        if ((relayed != null || allocating) && key != null) {
            send(Kind.DEALLOCATE, null, 0);
        }
        generation++;
        forgetAllocation();
    }

    private static byte[] transactionId() {
        byte[] tid = new byte[12];
        RANDOM.nextBytes(tid);
        return tid;
    }
}
