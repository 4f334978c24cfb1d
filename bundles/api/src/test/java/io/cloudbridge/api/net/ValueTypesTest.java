package io.cloudbridge.api.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import org.junit.jupiter.api.Test;

class ValueTypesTest {

    @Test
    void prefixIsNormalisedAndMatchesItsHosts() throws Exception {
        IpPrefix p = IpPrefix.parse("100.64.7.9/10");
        assertEquals("100.64.0.0/10", p.toString());
        assertTrue(p.contains(InetAddress.getByName("100.127.255.255")));
        assertFalse(p.contains(InetAddress.getByName("100.128.0.0")));
        assertFalse(p.contains(InetAddress.getByName("::1")));
        assertEquals("fd7a:0:0:0:0:0:0:0/48", IpPrefix.parse("fd7a::1/48").toString());
    }

    @Test
    void prefixRejectsNamesAndBadLengths() {
        assertThrows(IllegalArgumentException.class, () -> IpPrefix.parse("example.com/24"));
        assertThrows(IllegalArgumentException.class, () -> IpPrefix.parse("dead.beef"), "hex-only names are names");
        assertTrue(IpPrefix.isAddressLiteral("::ffff:10.0.0.1"));
        assertThrows(IllegalArgumentException.class, () -> IpPrefix.parse("10.0.0.0/33"));
        assertThrows(IllegalArgumentException.class, () -> IpPrefix.parse("10.0.0.0/x"));
    }

    @Test
    void nodeKeyRoundTripsAndRejectsWrongLengths() {
        String b64 = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
        assertEquals(b64, NodeKey.parse(b64).toBase64());
        assertEquals(NodeKey.parse(b64), NodeKey.parse(b64));
        assertThrows(IllegalArgumentException.class, () -> NodeKey.parse("AAAA"));
        assertThrows(IllegalArgumentException.class, () -> NodeKey.of(new byte[31]));
        assertThrows(IllegalArgumentException.class, () -> NodeKey.parse("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!="));
    }
}
