package io.cloudbridge.wireguard.internal.component;

import io.cloudbridge.wireguard.internal.device.IcmpEcho;
import io.cloudbridge.wireguard.internal.device.WireGuardDevice;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code cb:ping}'s ICMP echoes through the tunnel. The requests come from the daemon, not from the
 * host's stack, so their replies carry an identifier of their own and are taken out of the
 * decrypted packets before the TUN device or the userspace stack gets them.
 */
final class OverlayPings {
    /** The ICMP identifier of cb:ping's echo requests, so their replies are taken here. */
    private static final int PING_ID = 0xcb01;

    private final Map<Integer, CompletableFuture<Long>> pings = new ConcurrentHashMap<>();
    private final AtomicInteger pingSequence = new AtomicInteger();

    /** Takes a decrypted packet that is the reply to one of these echoes; false for any other packet. */
    boolean takeReply(byte[] packet, int length) {
        if (IcmpEcho.isReply(packet, length) && IcmpEcho.id(packet) == PING_ID) {
            CompletableFuture<Long> f = pings.remove(IcmpEcho.sequence(packet));
            if (f != null) {
                f.complete(System.nanoTime());
            }
            return true;
        }
        return false;
    }

    /** An ICMP echo through the tunnel; the round-trip time, or empty on timeout. */
    Optional<Duration> ping(WireGuardDevice device, List<InetAddress> ownAddresses, InetAddress target, Duration timeout)
            throws IOException {
        Inet4Address source = ownAddresses.stream().filter(a -> a instanceof Inet4Address).map(a -> (Inet4Address) a)
                .findFirst().orElseThrow(() -> new IOException("this interface has no IPv4 overlay address"));
        if (!(target instanceof Inet4Address v4)) {
            throw new IOException("cb:ping speaks IPv4 for now");
        }
        int seq = pingSequence.incrementAndGet() & 0xffff;
        CompletableFuture<Long> reply = new CompletableFuture<>();
        pings.put(seq, reply);
        long sent = System.nanoTime();
        device.send(IcmpEcho.request(source, v4, PING_ID, seq, "cloudbridge".getBytes(StandardCharsets.US_ASCII)));
        try {
            return Optional.of(Duration.ofNanos(reply.get(timeout.toMillis(), TimeUnit.MILLISECONDS) - sent));
        } catch (TimeoutException e) {
            return Optional.empty();
        } catch (ExecutionException | java.util.concurrent.CancellationException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        } finally {
            pings.remove(seq);
        }
    }

    /** The interface is closing: nobody waits for a reply any longer. */
    void cancelAll() {
        pings.values().forEach(f -> f.cancel(false));
    }
}
