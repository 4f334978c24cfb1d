package io.cloudbridge.filter.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.cloudbridge.api.policy.NodeFilter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Fuzz targets for what the filter reads from outside: a decrypted packet from a peer (any bytes an
 * authenticated peer may put inside its tunnel), told and asked in both directions against a
 * policy in force; and the filter kept in the state folder, which a damaged disk or a hand edit may
 * have changed. Neither may throw; a packet the filter cannot read is counted as malformed, a file
 * it cannot read is refused as unreadable.
 */
class FilterFuzzTest {
    private static final FilterTestKit.ManualClock CLOCK = new FilterTestKit.ManualClock();
    private static final List<String> LOG = new ArrayList<>();
    private static final StatefulFilter FILTER = FilterTestKit.engine(1024, CLOCK, LOG);

    static {
        FILTER.install(FilterTestKit.filter(3,
                FilterTestKit.rule(1, "no telnet", false, "0.0.0.0/0,::/0", "100.64.0.2/32,fd7a::2/128", Set.of(), "23"),
                FilterTestKit.rule(2, "web", true, "100.64.0.0/10,fd7a::/48", "100.64.0.2/32,fd7a::2/128",
                        Set.of(FilterTestKit.TCP), "80", "8000-8999"),
                FilterTestKit.rule(3, "ping", true, "0.0.0.0/0,::/0", "100.64.0.2/32,fd7a::2/128",
                        Set.of(FilterTestKit.ICMP, FilterTestKit.ICMPV6))));
    }

    @FuzzTest
    void packet(byte[] data) {
        if (data.length == 0) {
            return;
        }
        // The first byte says which way and where in the buffer: both directions, any offset.
        int offset = data[0] & 0x07;
        byte[] buffer = new byte[data.length - 1 + offset];
        System.arraycopy(data, 1, buffer, offset, data.length - 1);
        if ((data[0] & 0x08) != 0) {
            FILTER.noteOutbound(buffer, offset, data.length - 1);
        } else {
            FILTER.admitInbound(buffer, offset, data.length - 1);
        }
        assertTrue(FILTER.flowCount() <= 1024, "the table stays within its bound");
        if (LOG.size() > 10_000) {
            LOG.clear();
        }
        if ((data[0] & 0x30) == 0x30) {
            CLOCK.advanceSeconds(7); // now and then, time passes: flows expire, closing ones go
        }
    }

    @FuzzTest
    void storedFilter(byte[] data) {
        String text = new String(data, StandardCharsets.ISO_8859_1);
        try {
            NodeFilter read = FilterText.read(text);
            // Whatever it took, it writes and reads back the same.
            assertEquals(read, FilterText.read(FilterText.write(read)));
        } catch (FilterText.Unreadable refused) {
            assertTrue(refused.getMessage() != null && !refused.getMessage().isEmpty());
        }
    }
}
