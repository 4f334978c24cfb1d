package io.cloudbridge.ice.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class IceOfferTest {

    @Test
    void roundTrips() throws Exception {
        InetAddress v4 = InetAddress.getByName("192.0.2.7");
        InetAddress v6 = InetAddress.getByName("2001:db8::7");
        IceOffer offer = new IceOffer("abcd", "0123456789abcdefghijkl", true, List.of(
                new Candidate(Candidate.Type.HOST, new InetSocketAddress(v4, 51820), Candidate.priority(Candidate.Type.HOST, v4, 0)),
                new Candidate(Candidate.Type.SRFLX, new InetSocketAddress(v6, 4000), Candidate.priority(Candidate.Type.SRFLX, v6, 1))));
        IceOffer back = IceOffer.decode(offer.encode());
        assertEquals(offer, back);
        assertEquals(2130706431L, Candidate.priority(Candidate.Type.HOST, v4, 0)); // RFC 8445's host, local preference 65535
        assertTrue(new String(offer.encode(), StandardCharsets.UTF_8).contains("candidate:host 1 udp 2130706431 192.0.2.7 51820 typ host"));
    }

    @Test
    void refusesWhatIsNotAnOffer() {
        String good = "ufrag abcd\npwd 0123456789abcdefghijkl\nanswer wanted\n";
        for (String bad : List.of("", "ufrag abcd\n", good.replace("abcd", "ab"), good.replace("abcd", "ab:cd"),
                good.replace("wanted", "maybe"), good + "candidate:host 1 udp 1 example.org 5 typ host\n",
                good + "candidate:host 1 udp 1 192.0.2.1 0 typ host\n", good + "candidate:host 1 tcp 1 192.0.2.1 5 typ host\n",
                good + "candidate:host 1 udp 99999999999 192.0.2.1 5 typ host\n", good + "candidate:host 1 udp 1 192.0.2.1 5 typ bogus\n",
                good + "candidate:host 1 udp 1 192.0.2.1\n", good + "hello\n", good + "candidate:host 2 udp 1 192.0.2.1 5 typ host\n")) {
            assertThrows(IllegalArgumentException.class, () -> IceOffer.decode(bad.getBytes(StandardCharsets.UTF_8)), bad);
        }
        assertThrows(IllegalArgumentException.class, () -> IceOffer.decode(new byte[20_000]));
        assertThrows(IllegalArgumentException.class,
                () -> IceOffer.decode((good + "candidate:host 1 udp 1 192.0.2.1 5 typ host\n".repeat(33)).getBytes(StandardCharsets.UTF_8)));
        assertEquals(0, IceOffer.decode(good.getBytes(StandardCharsets.UTF_8)).candidates().size());
    }
}
