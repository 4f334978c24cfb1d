package io.cloudbridge.audit.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** An audit section whose syslog address is not one is refused with the reason; good ones pass. */
class SyslogAddressValidatorTest {
    private final SyslogAddressValidator validator = new SyslogAddressValidator();

    private List<String> problems(String address) {
        return validator.validate(Map.of("syslog", address));
    }

    @Test
    void goodAddressesPass() {
        assertEquals(List.of(), problems(""));
        assertEquals(List.of(), problems("127.0.0.1:514"));
        assertEquals(List.of(), problems("udp://127.0.0.1:5514"));
        assertEquals(List.of(), problems("udp://[::1]"));
        assertEquals(List.of(), validator.validate(Map.of()));
    }

    @Test
    void badAddressesAreRefusedWithTheReason() {
        assertTrue(problems("tcp://127.0.0.1:514").get(0).contains("only UDP"), problems("tcp://127.0.0.1:514").toString());
        assertTrue(problems("udp://").get(0).startsWith("syslog: audit.syslog 'udp://'"), problems("udp://").toString());
        assertTrue(problems("no such host.invalid:514").get(0).startsWith("syslog: "), problems("no such host.invalid:514").toString());
        assertTrue(problems("syslog.invalid:514").get(0).contains("does not resolve"), problems("syslog.invalid:514").toString());
        assertTrue(problems("udp://127.0.0.1:99999").get(0).startsWith("syslog: "), problems("udp://127.0.0.1:99999").toString());
    }
}
