package io.cloudbridge.ice.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

class BirthdayProbingTest {
    /** What two STUN servers' answers say of a NAT's mapping, as birthday probing reads them. */
    @Test
    void serverReflexiveAddressesTellTheMapping() throws Exception {
        InetAddress pub = InetAddress.getByName("198.51.100.11");
        assertEquals(Boolean.TRUE, BirthdayProbing.hardMapping(List.of(new InetSocketAddress(pub, 4000), new InetSocketAddress(pub, 4001))));
        assertEquals(Boolean.FALSE, BirthdayProbing.hardMapping(List.of(new InetSocketAddress(pub, 4000), new InetSocketAddress(pub, 4000))));
        assertEquals(null, BirthdayProbing.hardMapping(List.of(new InetSocketAddress(pub, 4000))), "one server cannot tell");
        assertEquals(null, BirthdayProbing.hardMapping(List.of()));
    }
}
