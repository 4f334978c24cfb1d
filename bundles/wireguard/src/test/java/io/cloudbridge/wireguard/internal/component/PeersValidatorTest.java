package io.cloudbridge.wireguard.internal.component;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PeersValidatorTest {
    private final PeersValidator validator = new PeersValidator();

    @Test
    void anMtuIsZeroOrAtLeastTheIpv6Minimum() {
        assertTrue(validator.validate(Map.of("mtu", 0)).isEmpty());
        assertTrue(validator.validate(Map.of("mtu", 1280)).isEmpty());
        assertTrue(validator.validate(Map.of("mtu", 1420)).isEmpty());
        List<String> problems = validator.validate(Map.of("mtu", 576));
        assertEquals(1, problems.size());
        assertTrue(problems.get(0).startsWith("mtu: 576"), problems.get(0));
    }

    @Test
    void peersAndAddressesMustParse() {
        assertEquals(2, validator.validate(Map.of("peers", new String[] {"publicKey=nope"},
                "addresses", new String[] {"10.0.0.1/33"})).size());
    }
}
