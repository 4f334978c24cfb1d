package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.paths.internal.OverlayBinding;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.wireguard.internal.noise.Identity;
import java.net.InetAddress;
import java.nio.channels.DatagramChannel;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The longest allowed prefix across all peers wins, at any prefix length, and families never mix;
 * the routing table agrees with a plain scan of every prefix through any sequence of changes.
 */
class CryptokeyRoutingTest {
    @Test
    void longestPrefixAcrossPeersAtAnyLength() throws Exception {
        try (WireGuardDevice device = new WireGuardDevice(Identity.generate(), new OverlayBinding(DatagramChannel.open()), (p, b, n) -> { },
                Clock.systemUTC())) {
            Peer wide = device.addPeer(Identity.generate().publicKey(), null,
                    List.of(IpPrefix.parse("10.0.0.0/8"), IpPrefix.parse("fd00::/7")), null);
            Peer narrow = device.addPeer(Identity.generate().publicKey(), null,
                    List.of(IpPrefix.parse("10.64.0.0/10"), IpPrefix.parse("fd12:3456::/127")), null);
            Peer everything = device.addPeer(Identity.generate().publicKey(), null, List.of(IpPrefix.parse("0.0.0.0/0")), null);

            assertSame(wide, device.route(InetAddress.getByName("10.1.2.3")));
            assertSame(narrow, device.route(InetAddress.getByName("10.64.0.1")));
            assertSame(narrow, device.route(InetAddress.getByName("10.127.255.255")));
            assertSame(wide, device.route(InetAddress.getByName("10.128.0.0")));
            assertSame(everything, device.route(InetAddress.getByName("192.0.2.1")));
            assertSame(narrow, device.route(InetAddress.getByName("fd12:3456::1")));
            assertSame(wide, device.route(InetAddress.getByName("fd12:3456::2")));
            assertSame(wide, device.route(InetAddress.getByName("fc00::1")));
            assertNull(device.route(InetAddress.getByName("fe80::1")), "0.0.0.0/0 holds no IPv6 address");
            // An IPv4-mapped IPv6 address is IPv6 on the wire: no IPv4 prefix holds it.
            byte[] mapped = new byte[16];
            mapped[10] = (byte) 0xff;
            mapped[11] = (byte) 0xff;
            mapped[12] = 10;
            mapped[15] = 1;
            assertNull(device.route(java.net.Inet6Address.getByAddress(null, mapped, -1)));
        }
    }

    /** As with {@code wg set}, a key given again names the peer it already is: its prefixes grow, nothing is duplicated. */
    @Test
    void aKeyAddedAgainNamesTheSamePeer() throws Exception {
        try (WireGuardDevice device = new WireGuardDevice(Identity.generate(), new OverlayBinding(DatagramChannel.open()), (p, b, n) -> { },
                Clock.systemUTC())) {
            byte[] key = Identity.generate().publicKey();
            Peer first = device.addPeer(key, null, List.of(IpPrefix.parse("10.0.0.1/32")), null);
            java.net.InetSocketAddress endpoint = new java.net.InetSocketAddress(InetAddress.getLoopbackAddress(), 51820);
            Peer again = device.addPeer(key, null, List.of(IpPrefix.parse("10.0.0.2/32")), endpoint);
            assertSame(first, again);
            org.junit.jupiter.api.Assertions.assertEquals(1, device.peers().size());
            org.junit.jupiter.api.Assertions.assertEquals(endpoint, first.endpoint());
            assertSame(first, device.route(InetAddress.getByName("10.0.0.1")));
            assertSame(first, device.route(InetAddress.getByName("10.0.0.2")));
            org.junit.jupiter.api.Assertions.assertTrue(device.removePeer(key));
            assertNull(device.route(InetAddress.getByName("10.0.0.1")), "a removed peer's prefixes route nowhere");
            assertNull(device.peer(key));
            // A caller that found the peer before it was removed cannot give it routes again.
            device.addAllowedIp(first, IpPrefix.parse("10.0.0.3/32"));
            device.replaceAllowedIps(first, List.of(IpPrefix.parse("10.0.0.4/32")));
            assertNull(device.route(InetAddress.getByName("10.0.0.3")));
            assertNull(device.route(InetAddress.getByName("10.0.0.4")));
        }
    }

    /**
     * Thousands of random changes (a prefix given to a peer or moved from another, a peer's prefixes
     * replaced, a peer removed and another added), each followed by lookups near the prefixes
     * present, all checked against a scan of every prefix for the longest holding the address.
     */
    @Test
    void agreesWithAScanOfEveryPrefixThroughRandomChanges() throws Exception {
        Random random = new Random(20261126);
        try (WireGuardDevice device = new WireGuardDevice(Identity.generate(), new OverlayBinding(DatagramChannel.open()), (p, b, n) -> { },
                Clock.systemUTC())) {
            List<Peer> peers = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                peers.add(device.addPeer(Identity.generate().publicKey(), null, List.of(), null));
            }
            Map<IpPrefix, Peer> owners = new HashMap<>();
            for (int step = 0; step < 4000; step++) {
                Peer peer = peers.get(random.nextInt(peers.size()));
                int what = random.nextInt(20);
                if (what < 15) {
                    IpPrefix prefix = randomPrefix(random);
                    device.addAllowedIp(peer, prefix);
                    owners.put(prefix, peer);
                } else if (what < 19) {
                    List<IpPrefix> fresh = new ArrayList<>();
                    for (int k = random.nextInt(4); k > 0; k--) {
                        fresh.add(randomPrefix(random));
                    }
                    device.replaceAllowedIps(peer, fresh);
                    owners.values().removeIf(o -> o == peer);
                    fresh.forEach(f -> owners.put(f, peer));
                } else {
                    device.removePeer(peer.publicKey());
                    owners.values().removeIf(o -> o == peer);
                    peers.remove(peer);
                    peers.add(device.addPeer(Identity.generate().publicKey(), null, List.of(), null));
                }
                for (Peer p : peers) {
                    Set<IpPrefix> owned = owners.entrySet().stream().filter(e -> e.getValue() == p).map(Map.Entry::getKey)
                            .collect(Collectors.toSet());
                    org.junit.jupiter.api.Assertions.assertEquals(owned, Set.copyOf(p.allowedIps()), "step " + step);
                }
                List<IpPrefix> present = new ArrayList<>(owners.keySet());
                for (int probe = 0; probe < 8; probe++) {
                    InetAddress address = present.isEmpty() || probe == 0 ? randomAddress(random, random.nextBoolean())
                            : near(present.get(random.nextInt(present.size())), random);
                    assertSame(scan(owners, address), device.route(address), "step " + step + ", " + address.getHostAddress());
                }
            }
        }
    }

    /**
     * Lookups while another thread keeps changing the table: prefixes that never change always
     * route to their peer, whatever is added, moved and removed around them (nodes are never
     * changed in place, and each root is published whole).
     */
    @Test
    void lookupsDuringChangesSeeEveryUnchangedPrefix() throws Exception {
        try (WireGuardDevice device = new WireGuardDevice(Identity.generate(), new OverlayBinding(DatagramChannel.open()), (p, b, n) -> { },
                Clock.systemUTC())) {
            List<IpPrefix> fixed = List.of(IpPrefix.parse("10.0.0.0/8"), IpPrefix.parse("10.1.0.0/16"), IpPrefix.parse("10.1.2.3/32"),
                    IpPrefix.parse("fd00::/8"), IpPrefix.parse("fd00:1::/32"), IpPrefix.parse("fd00:1::7/128"));
            Peer stable = device.addPeer(Identity.generate().publicKey(), null, fixed, null);
            List<Peer> churners = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                churners.add(device.addPeer(Identity.generate().publicKey(), null, List.of(), null));
            }
            InetAddress[] probes = {InetAddress.getByName("10.200.0.1"), InetAddress.getByName("10.1.200.1"),
                InetAddress.getByName("10.1.2.3"), InetAddress.getByName("fd77::1"), InetAddress.getByName("fd00:1:ff::1"),
                InetAddress.getByName("fd00:1::7")};
            java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
            java.util.concurrent.atomic.AtomicReference<String> wrong = new java.util.concurrent.atomic.AtomicReference<>();
            java.util.concurrent.atomic.AtomicLong lookups = new java.util.concurrent.atomic.AtomicLong();
            Thread reader = new Thread(() -> {
                while (!done.get() && wrong.get() == null) {
                    for (InetAddress a : probes) {
                        if (device.route(a) != stable) {
                            wrong.set(a.getHostAddress());
                        }
                    }
                    lookups.incrementAndGet();
                }
            });
            reader.start();
            Random random = new Random(7);
            try {
                for (int step = 0; step < 20_000 && wrong.get() == null; step++) {
                    // Prefixes beside and inside the fixed ones, never equal to them (so never taken from the stable peer).
                    IpPrefix prefix = random.nextBoolean()
                            ? new IpPrefix(InetAddress.getByAddress(new byte[] {10, 1, 2, (byte) (4 + random.nextInt(200))}),
                                    24 + random.nextInt(9))
                            : new IpPrefix(InetAddress.getByName("fd00:1::" + Integer.toHexString(8 + random.nextInt(4000))),
                                    112 + random.nextInt(17));
                    if (fixed.contains(prefix) || prefix.contains(InetAddress.getByName("10.1.2.3"))
                            || prefix.contains(InetAddress.getByName("fd00:1::7"))) {
                        continue;
                    }
                    Peer churner = churners.get(random.nextInt(churners.size()));
                    if (random.nextInt(4) == 0) {
                        device.replaceAllowedIps(churner, List.of());
                    } else {
                        device.addAllowedIp(churner, prefix);
                    }
                }
            } finally {
                done.set(true);
                reader.join(10_000);
            }
            assertNull(wrong.get(), "a lookup of " + wrong.get() + " missed the unchanged prefix");
            org.junit.jupiter.api.Assertions.assertTrue(lookups.get() > 100, "the reader ran alongside: " + lookups.get());
        }
    }

    /** Prefixes crowded into a small space, so that they nest, repeat and part ways at every length. */
    private static IpPrefix randomPrefix(Random random) throws Exception {
        boolean v4 = random.nextBoolean();
        InetAddress address = randomAddress(random, v4);
        int bits = v4 ? 32 : 128;
        int length = random.nextInt(8) == 0 ? random.nextInt(bits + 1) : bits - random.nextInt(v4 ? 12 : 20);
        return new IpPrefix(address, length);
    }

    private static InetAddress randomAddress(Random random, boolean v4) throws Exception {
        byte[] a = new byte[v4 ? 4 : 16];
        a[0] = (byte) (v4 ? 10 : 0xfd);
        // Few distinct values at a few random places: addresses share long runs of equal bytes and
        // part ways at any bit, so that splits happen at every depth.
        for (int k = random.nextInt(3); k >= 0; k--) {
            a[1 + random.nextInt(a.length - 1)] = (byte) (1 << random.nextInt(8) | random.nextInt(2));
        }
        return InetAddress.getByAddress(a);
    }

    /** An address inside the prefix, its host bits random. */
    private static InetAddress near(IpPrefix prefix, Random random) throws Exception {
        byte[] a = prefix.address().getAddress();
        for (int bit = prefix.length(); bit < a.length * 8; bit++) {
            if (random.nextBoolean()) {
                a[bit >>> 3] ^= (byte) (0x80 >>> (bit & 7));
            }
        }
        return InetAddress.getByAddress(a);
    }

    private static Peer scan(Map<IpPrefix, Peer> owners, InetAddress address) {
        Peer best = null;
        int bestLength = -1;
        for (Map.Entry<IpPrefix, Peer> e : owners.entrySet()) {
            if (e.getKey().contains(address) && e.getKey().length() > bestLength) {
                best = e.getValue();
                bestLength = e.getKey().length();
            }
        }
        return best;
    }
}
