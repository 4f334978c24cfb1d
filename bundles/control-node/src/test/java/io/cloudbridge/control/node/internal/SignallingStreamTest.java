package io.cloudbridge.control.node.internal;

import static io.cloudbridge.control.node.internal.ControlTestKit.key;
import static io.cloudbridge.control.node.internal.ControlTestKit.peer;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.cloudbridge.api.mesh.SignalListener;
import io.cloudbridge.api.mesh.Signalling;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.control.node.internal.ControlTestKit.QueueingScheduler;
import io.cloudbridge.control.node.internal.ControlTestKit.RecordingStream;
import io.cloudbridge.control.v1.FullMap;
import io.cloudbridge.control.v1.NetworkMapUpdate;
import io.cloudbridge.control.v1.SignalMessage;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The signalling stream's reopen policy, and messages in and out, on a stream that records instead of a relay. */
class SignallingStreamTest {
    @TempDir
    Path state;
    private final QueueingScheduler scheduler = new QueueingScheduler();
    private final NetworkMap map = new NetworkMap();
    private final List<String> heard = new ArrayList<>();
    private ControlSession session;
    private SignallingStream signalling;
    private ManagedChannel elsewhere;

    @BeforeEach
    void start() {
        session = ControlTestKit.session(state, ControlTestKit.config("relay.example:7443", "node-a", "", 30), scheduler);
        session.registration = ControlTestKit.registered("self");
        map.apply(NetworkMapUpdate.newBuilder().setVersion(1).setFull(FullMap.newBuilder()
                .addPeers(peer("self", key(1), "me")).addPeers(peer("b", key(2), "beta")).addPeers(peer("broken", null, "short-key"))).build());
        signalling = new SignallingStream(session, map);
        signalling.addListener(new SignalListener() {
            @Override
            public void onSignal(NodeKey from, String type, int version, byte[] payload) {
                heard.add((from.equals(key(2)) ? "b" : from.toString()) + " " + type + " v" + version + " " + payload.length + " bytes");
            }

            @Override
            public void signallingConnected() {
                heard.add("connected");
            }
        });
    }

    @AfterEach
    void stop() {
        scheduler.shutdownNow();
        if (elsewhere != null) {
            elsewhere.shutdownNow();
        }
    }

    /** A stream as gRPC opens it: its observer told the outgoing side before anything else. */
    private RecordingStream<SignalMessage> open(SignallingStream.Call call) {
        RecordingStream<SignalMessage> out = new RecordingStream<>();
        call.beforeStart(out);
        return out;
    }

    private SignallingStream.Call call() {
        return signalling.new Call(session.channel);
    }

    private List<Long> waits() {
        return scheduler.tasks.stream().map(QueueingScheduler.Task::delayMillis).collect(Collectors.toList());
    }

    @Test
    void reopeningBacksOffFromAQuarterSecondToThirtySeconds() {
        long[] expected = {250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000};
        for (int failedBefore = 0; failedBefore < expected.length; failedBefore++) {
            assertEquals(expected[failedBefore], SignallingStream.reopenDelayMillis(failedBefore), failedBefore + " failed before");
        }
        assertEquals(30_000, SignallingStream.reopenDelayMillis(1_000));
    }

    @Test
    void breaksInARowBackOffAndAMessageReceivedStartsAfresh() {
        SignallingStream.Call first = call();
        open(first);
        first.onError(Status.UNAVAILABLE.asRuntimeException());
        SignallingStream.Call second = call();
        open(second);
        second.onCompleted();
        SignallingStream.Call third = call();
        open(third);
        third.onNext(SignalMessage.newBuilder().setFromNodeId("b").setPayloadType("ice.offer").build());
        third.onError(Status.UNAVAILABLE.asRuntimeException());
        assertEquals(List.of(250L, 500L, 250L), waits());
    }

    @Test
    void aStreamWhoseChannelWasReplacedReopensAtOnceWithoutCountingABreak() {
        SignallingStream.Call broken = call();
        open(broken);
        broken.onError(Status.UNAVAILABLE.asRuntimeException());
        SignallingStream.Call moved = call();
        open(moved);
        elsewhere = NettyChannelBuilder.forAddress("127.0.0.1", 9).usePlaintext().build();
        session.channel = elsewhere; // the node moved: a new channel while the stream was open on the old one
        moved.onError(Status.UNAVAILABLE.asRuntimeException());
        SignallingStream.Call next = call();
        open(next);
        next.onError(Status.UNAVAILABLE.asRuntimeException());
        assertEquals(List.of(250L, 0L, 500L), waits());
    }

    @Test
    void theEndOfAReplacedStreamLeavesItsSuccessorAlone() {
        SignallingStream.Call old = call();
        open(old);
        RecordingStream<SignalMessage> current = open(call());
        old.onError(Status.CANCELLED.asRuntimeException());
        assertTrue(scheduler.tasks.isEmpty(), "no reopen for a stream already replaced");
        assertTrue(signalling.send(key(2), "ice.offer", 1, new byte[] {1}), "the newer stream still carries sends");
        assertEquals(1, current.sent.size());
    }

    @Test
    void aMessageInReachesEveryListenerWithTheSendersKeyFromTheMap() {
        signalling.addListener((from, type, version, payload) -> {
            throw new IllegalStateException("a listener that fails");
        });
        List<String> second = new ArrayList<>();
        signalling.addListener((from, type, version, payload) -> second.add(type));

        signalling.deliver(message("b", "ice.offer", 2, 5));
        signalling.deliver(message("stranger", "ice.offer", 2, 5));
        signalling.deliver(message("broken", "ice.offer", 2, 5));
        assertEquals(List.of("b ice.offer v2 5 bytes"), heard, "senders not in the map, or with no usable key, are dropped");
        assertEquals(List.of("ice.offer"), second, "a failing listener does not keep the message from the next one");
    }

    @Test
    void aMessageOutIsAddressedByNodeIdAndRefusedWhenItCannotGo() {
        assertFalse(signalling.send(key(2), "ice.offer", 1, new byte[] {1}), "no stream open");
        RecordingStream<SignalMessage> out = open(call());

        assertTrue(signalling.send(key(2), "ice.offer", 3, new byte[] {4, 5}));
        SignalMessage sent = out.sent.get(0);
        assertEquals("b", sent.getToNodeId());
        assertEquals("ice.offer", sent.getPayloadType());
        assertEquals(3, sent.getPayloadVersion());
        assertArrayEquals(new byte[] {4, 5}, sent.getPayload().toByteArray());

        assertFalse(signalling.send(key(9), "ice.offer", 1, new byte[] {1}), "a key not in the map");
        assertFalse(signalling.send(key(2), "ice.offer", 1, new byte[Signalling.MAX_PAYLOAD + 1]), "more than the relay forwards");
        assertTrue(signalling.send(key(2), "ice.offer", 1, new byte[Signalling.MAX_PAYLOAD]));
        assertFalse(signalling.send(key(2), "x".repeat(65), 1, new byte[] {1}), "a type longer than 64 characters");
        assertEquals(2, out.sent.size());
    }

    @Test
    void aStreamThatBreaksUnderASendIsDroppedAndReopened() {
        RecordingStream<SignalMessage> out = open(call());
        out.breakOnSend = new IllegalStateException("call already closed");
        assertFalse(signalling.send(key(2), "ice.offer", 1, new byte[] {1}));
        assertEquals(List.of(250L), waits(), "reopened after the first step of the backoff");
        out.breakOnSend = null;
        assertFalse(signalling.send(key(2), "ice.offer", 1, new byte[] {1}), "the broken stream is not used again");
        assertTrue(out.sent.isEmpty());
    }

    @Test
    void aNewRegistrationCancelsTheStreamOpenedUnderTheOldOne() {
        RecordingStream<SignalMessage> old = open(call());
        session.registration = null; // so that the reopen stops short of the network
        signalling.reopen();
        assertEquals("the node registered again", old.cancelled);
        assertFalse(signalling.send(key(2), "ice.offer", 1, new byte[] {1}));
        assertEquals(List.of(), heard, "not registered: no stream opened, no listener told to send again");
    }

    private static SignalMessage message(String from, String type, int version, int bytes) {
        return SignalMessage.newBuilder().setFromNodeId(from).setPayloadType(type).setPayloadVersion(version)
                .setPayload(ByteString.copyFrom(new byte[bytes])).build();
    }
}
