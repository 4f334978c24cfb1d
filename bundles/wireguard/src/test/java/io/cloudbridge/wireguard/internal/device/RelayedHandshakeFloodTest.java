package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.paths.internal.OverlayBinding;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.wireguard.internal.noise.Handshake;
import io.cloudbridge.wireguard.internal.noise.Identity;
import io.cloudbridge.wireguard.internal.noise.Keypair;
import io.cloudbridge.wireguard.internal.noise.Messages;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 23, item 1: a node of one tenant floods the relay's CONNECT-IP gateway of its tenant with
 * valid-MAC1 handshake initiations over its relay session. The gateway's device is told who sent
 * each message (the relay authenticated it) and must (a) do no Diffie-Hellman work on the thread
 * that hands the message in (the relay's QUIC event loop, which every tenant shares), (b) shed the
 * sender's messages beyond its budget, counted, (c) still answer another node promptly, and (d)
 * under load answer with a cookie reply bound to the sender's key instead of doing the work.
 *
 * <p>Every handshake is a real Noise_IKpsk2 one (the noise package), the attacker's included: the
 * attack needs nothing but a node's own key and the gateway's public key from the map. Work is
 * counted, never timed: the gateway's clock is fixed, so budgets do not refill during a test.
 */
class RelayedHandshakeFloodTest {
    static final int FLOOD = 10_000;
    final Instant start = Instant.parse("2026-12-01T00:00:00Z");
    final Clock clock = Clock.fixed(start, ZoneOffset.UTC);
    final Identity gatewayId = Identity.generate();
    final byte[] gatewayKey = gatewayId.publicKey();
    /** What the gateway sent, to whom, and on which thread. */
    final List<Sent> sent = new CopyOnWriteArrayList<>();
    final List<AutoCloseable> closing = new ArrayList<>();
    int nextAddress = 2;

    record Sent(NodeKey to, byte[] message, Thread thread) {
        int type() {
            return message[0];
        }
    }

    /** The gateway's handshake thread, held: its work runs when the test says, on the test's thread. */
    static final class HeldThread implements Executor {
        final Deque<Runnable> tasks = new ArrayDeque<>();

        @Override
        public synchronized void execute(Runnable task) {
            tasks.add(task);
        }

        void runAll() {
            Runnable task;
            while ((task = poll()) != null) {
                task.run();
            }
        }

        private synchronized Runnable poll() {
            return tasks.poll();
        }
    }

    /** A relay-attached gateway device (as the CONNECT-IP gateway's engine makes it) whose handshake thread is {@code thread}. */
    WireGuardDevice gateway(Executor thread) throws Exception {
        OverlayBinding paths = new OverlayBinding(
                java.nio.channels.DatagramChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)));
        WireGuardDevice device = new WireGuardDevice(gatewayId, paths, (peer, p, n) -> {
        }, clock, 1000, Timers.STANDARD, thread);
        // Every message goes to its peer as the gateway's switch port would take it.
        paths.setRoutes((peer, message) -> {
            byte[] copy = new byte[message.remaining()];
            message.get(copy);
            sent.add(new Sent(peer, copy, Thread.currentThread()));
            return io.cloudbridge.api.path.PathBinding.Sent.SENT;
        });
        closing.add(device);
        return device;
    }

    /** A node of the tenant: a peer of the gateway, with a real handshake towards it. */
    final class Node {
        final Identity id = Identity.generate();
        final byte[] key = id.publicKey();
        final Handshake handshake;
        int index = 1;
        Instant time = start;

        Node(WireGuardDevice gateway) throws Exception {
            handshake = new Handshake(id, gatewayKey, null);
            gateway.addPeer(key, null, List.of(IpPrefix.parse("10.0." + (nextAddress / 250) + "." + (nextAddress++ % 250 + 1) + "/32")), null);
        }

        /** A fresh, valid initiation (newer timestamp each time, MAC1 for the gateway's key, MAC2 if a cookie is held). */
        byte[] initiation() {
            time = time.plusMillis(1);
            return handshake.createInitiation(index++, time);
        }

        List<Sent> received() {
            return sent.stream().filter(s -> s.to().equals(NodeKey.of(key))).toList();
        }
    }

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable c : closing) {
            c.close();
        }
    }

    private static long dropped(WireGuardDevice device, String reason) {
        return device.drops().getOrDefault(reason, 0L);
    }

    /** Handshake messages the gateway did its Diffie-Hellman work on: answered, or refused after decrypting. */
    private static long worked(WireGuardDevice device, Node... nodes) {
        long n = dropped(device, "refused initiation") + dropped(device, "replayed initiation")
                + dropped(device, "bad initiation") + dropped(device, "relayed initiation: not the sender's");
        for (Node node : nodes) {
            n += device.peer(node.key).handshakesCompleted();
        }
        return n;
    }

    @Test
    void aFloodFromOneNodeIsShedBeyondItsBudgetAndNoneOfItsWorkRunsOnTheForwardingThread() throws Exception {
        HeldThread handshakeThread = new HeldThread();
        WireGuardDevice gateway = gateway(handshakeThread);
        Node attacker = new Node(gateway);
        List<byte[]> flood = new ArrayList<>(FLOOD);
        for (int i = 0; i < FLOOD; i++) {
            flood.add(attacker.initiation());
        }
        // The attack: 10,000 valid initiations through the relay session, as the relay's event loop hands them over.
        for (byte[] initiation : flood) {
            gateway.receiveRelayed(attacker.key, initiation, initiation.length);
        }
        // The forwarding thread did no handshake: nothing answered, nothing decrypted yet.
        assertEquals(List.of(), sent, "handshake work done on the forwarding thread");
        assertEquals(0, worked(gateway, attacker), "initiations decrypted on the forwarding thread");
        assertEquals(FLOOD - HandshakeBudget.BURST, dropped(gateway, "relayed handshake: sender over its budget"),
                "the flood beyond the sender's budget is shed and counted: " + gateway.drops());
        assertEquals(HandshakeBudget.BURST, gateway.relayedHandshakesWaiting());

        handshakeThread.runAll();
        assertEquals(HandshakeBudget.BURST, worked(gateway, attacker),
                "of 10,000 initiations, only the budget's were worked on: " + gateway.drops());
        assertEquals(1, gateway.peer(attacker.key).handshakesCompleted(), "the first was answered (then the flood limit holds)");
        assertEquals(List.of((int) Messages.RESPONSE), attacker.received().stream().map(Sent::type).toList());
    }

    @Test
    void anotherNodesHandshakeCompletesBehindTheFlood() throws Exception {
        HeldThread handshakeThread = new HeldThread();
        WireGuardDevice gateway = gateway(handshakeThread);
        Node attacker = new Node(gateway);
        Node other = new Node(gateway);
        for (int i = 0; i < FLOOD; i++) {
            byte[] initiation = attacker.initiation();
            gateway.receiveRelayed(attacker.key, initiation, initiation.length);
        }
        byte[] initiation = other.initiation();
        gateway.receiveRelayed(other.key, initiation, initiation.length);
        assertEquals(HandshakeBudget.BURST + 1, gateway.relayedHandshakesWaiting(),
                "the other node's initiation waits behind the attacker's budget only, not its flood");

        handshakeThread.runAll();
        List<Sent> answers = other.received();
        assertEquals(1, answers.size(), "the other node is answered: " + gateway.drops());
        assertEquals(Messages.RESPONSE, answers.get(0).type());
        Keypair keypair = other.handshake.consumeResponse(answers.get(0).message(), other.time);
        assertNotNull(keypair, "and its handshake completes");
        assertEquals(HandshakeBudget.BURST + 1, worked(gateway, attacker, other), "the gateway worked on its budget and the other's one");
    }

    @Test
    void underLoadARelayedInitiationWithoutACookieGetsACookieReplyBoundToItsSender() throws Exception {
        HeldThread handshakeThread = new HeldThread();
        WireGuardDevice gateway = gateway(handshakeThread);
        // Load: several nodes of the tenant each send their burst, and the queue reaches its load depth.
        List<Node> flooders = new ArrayList<>();
        for (int f = 0; f <= RelayedHandshakes.UNDER_LOAD / HandshakeBudget.BURST; f++) {
            Node n = new Node(gateway);
            flooders.add(n);
            for (int i = 0; i < HandshakeBudget.BURST + 1; i++) {
                byte[] initiation = n.initiation();
                gateway.receiveRelayed(n.key, initiation, initiation.length);
            }
        }
        assertTrue(gateway.relayedHandshakesWaiting() >= RelayedHandshakes.UNDER_LOAD,
                "the nodes' budgets fill the queue to its load depth: " + gateway.relayedHandshakesWaiting());
        // (the last of those nodes already got cookie replies for what came after the load depth)
        long cookies = dropped(gateway, "relayed handshake under load: cookie sent");
        Node node = new Node(gateway);
        byte[] first = node.initiation();
        gateway.receiveRelayed(node.key, first, first.length);
        assertEquals(cookies + 1, dropped(gateway, "relayed handshake under load: cookie sent"), String.valueOf(gateway.drops()));
        List<Sent> replies = node.received();
        assertEquals(1, replies.size());
        assertEquals(Messages.COOKIE_REPLY, replies.get(0).type());
        node.handshake.consumeCookieReply(replies.get(0).message(), node.time); // a real WireGuard peer takes it

        byte[] second = node.initiation(); // with MAC2 from the cookie

        // The cookie is bound to the node that was sent it: the same message with its valid MAC2,
        // sent by another node of the tenant, is not let in by it.
        Node other = new Node(gateway);
        gateway.receiveRelayed(other.key, second, second.length);
        assertEquals(cookies + 2, dropped(gateway, "relayed handshake under load: cookie sent"), "a cookie is no cookie from another sender");

        gateway.receiveRelayed(node.key, second, second.length);
        assertEquals(cookies + 2, dropped(gateway, "relayed handshake under load: cookie sent"), "the cookie lets it in");
        handshakeThread.runAll();
        List<Sent> answers = node.received().stream().filter(s -> s.type() == Messages.RESPONSE).toList();
        assertEquals(1, answers.size(), String.valueOf(gateway.drops()));
        assertNotNull(node.handshake.consumeResponse(answers.get(0).message(), node.time));
        assertTrue(flooders.size() > 1, "the load came from several nodes, each within its budget");
    }

    /**
     * The tenant's many nodes, each within its own budget, and the gateway's thread kept up with
     * them (so the queue never reaches its load depth and no cookie is asked for): together they
     * still get only the gateway's budget of Diffie-Hellman work.
     */
    @Test
    void manyNodesWithinTheirBudgetsTogetherGetOnlyTheGatewaysBudget() throws Exception {
        HeldThread handshakeThread = new HeldThread();
        WireGuardDevice gateway = gateway(handshakeThread);
        List<Node> nodes = new ArrayList<>();
        int perNode = HandshakeBudget.BURST;
        int count = 3 * HandshakeBudget.DEVICE_BURST / perNode; // three times what the gateway takes
        for (int n = 0; n < count; n++) {
            Node node = new Node(gateway);
            nodes.add(node);
            for (int i = 0; i < perNode; i++) {
                byte[] initiation = node.initiation();
                gateway.receiveRelayed(node.key, initiation, initiation.length);
            }
            handshakeThread.runAll();
        }
        assertEquals(0, dropped(gateway, "relayed handshake: sender over its budget"), "every node kept to its own budget");
        assertEquals(0, dropped(gateway, "relayed handshake under load: cookie sent"), "never under load");
        assertEquals(HandshakeBudget.DEVICE_BURST, worked(gateway, nodes.toArray(new Node[0])),
                "the gateway worked on its own budget's worth: " + gateway.drops());
        assertEquals((long) count * perNode - HandshakeBudget.DEVICE_BURST,
                dropped(gateway, "relayed handshake: all senders over their budget"));
    }

    @Test
    void aNodeCannotHaveAnotherNodesInitiationAnswered() throws Exception {
        HeldThread handshakeThread = new HeldThread();
        WireGuardDevice gateway = gateway(handshakeThread);
        Node victim = new Node(gateway);
        Node forwarder = new Node(gateway);
        byte[] recorded = victim.initiation();
        gateway.receiveRelayed(forwarder.key, recorded, recorded.length);
        handshakeThread.runAll();
        assertEquals(1, dropped(gateway, "relayed initiation: not the sender's"), String.valueOf(gateway.drops()));
        assertEquals(List.of(), sent);
        assertEquals(0, gateway.peer(victim.key).handshakesCompleted());

        byte[] stranger = Identity.generate().publicKey();
        gateway.receiveRelayed(stranger, recorded, recorded.length);
        assertEquals(1, dropped(gateway, "relayed handshake: sender is no peer"));
    }

    @Test
    void onTheGatewaysOwnThreadTheFloodIsWorkedOffTheCallersThreadAndTheOtherNodeIsAnswered() throws Exception {
        WireGuardDevice gateway = gateway(RelayedHandshakes.ownThread());
        Node attacker = new Node(gateway);
        Node other = new Node(gateway);
        for (int i = 0; i < 2_000; i++) {
            byte[] initiation = attacker.initiation();
            gateway.receiveRelayed(attacker.key, initiation, initiation.length);
        }
        byte[] initiation = other.initiation();
        gateway.receiveRelayed(other.key, initiation, initiation.length);
        NamespaceLab.await(Duration.ofSeconds(10), "the other node's response", () -> !other.received().isEmpty());
        assertEquals(Messages.RESPONSE, other.received().get(0).type());
        assertNotNull(other.handshake.consumeResponse(other.received().get(0).message(), other.time));
        NamespaceLab.await(Duration.ofSeconds(10), "the attacker's budget worked off", () -> worked(gateway, attacker, other) == HandshakeBudget.BURST + 1);
        for (Sent s : sent) {
            assertNotSame(Thread.currentThread(), s.thread(), "a handshake answered on the forwarding thread");
            assertEquals("wireguard-relayed-handshakes", s.thread().getName());
        }
    }
}
