package io.cloudbridge.filter.internal;

import static io.cloudbridge.filter.internal.FilterTestKit.TCP;
import static io.cloudbridge.filter.internal.FilterTestKit.UDP;
import static io.cloudbridge.filter.internal.FilterTestKit.filter;
import static io.cloudbridge.filter.internal.FilterTestKit.rule;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.cloudbridge.api.policy.NodeFilter;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The kept filter's text: what is written is read back equal, and anything else is refused whole. */
class FilterTextTest {
    private static final String SMALL = """
            cloudbridge-node-filter 1
            policy-version 3
            rules 2
            rule 1 accept name=ssh%20%26%20web%3D%C3%A9 sources=100.64.0.0/10,fd7a:115c:a1e0:0:0:0:0:0/48 destinations=100.64.0.1/32 protocols=6,17 ports=22,8000-8080
            rule 2 deny name= sources= destinations=100.64.0.1/32 protocols= ports=
            end
            """;

    @Test
    void writesOneLinePerRuleWithEveryValueSpelledOut() {
        NodeFilter small = filter(3,
                rule(1, "ssh & web=é", true, "100.64.0.0/10,fd7a:115c:a1e0::/48", "100.64.0.1/32", Set.of(UDP, TCP), "22", "8000-8080"),
                rule(2, "", false, "", "100.64.0.1/32", Set.of()));
        assertEquals(SMALL, FilterText.write(small));
    }

    @Test
    void whatIsWrittenIsReadBackEqual() throws Exception {
        for (NodeFilter f : new NodeFilter[] {StatefulFilterTest.POLICY, NodeFilter.OPEN, filter(1)}) {
            assertEquals(f, FilterText.read(FilterText.write(f)));
        }
        assertEquals(FilterText.read(SMALL), FilterText.read(FilterText.write(FilterText.read(SMALL))));
    }

    @Test
    void aDamagedOrForeignFileIsRefusedWhole() {
        Map<String, String> damaged = Map.ofEntries(
                Map.entry("empty", ""),
                Map.entry("cut mid-line", SMALL.substring(0, SMALL.length() - 3)),
                Map.entry("cut before the end", SMALL.replace("end\n", "")),
                Map.entry("a rule missing", SMALL.replace("rules 2", "rules 3")),
                Map.entry("a later format", SMALL.replace("cloudbridge-node-filter 1", "cloudbridge-node-filter 2")),
                Map.entry("another file", "{\"policyVersion\": 3}\n"),
                Map.entry("a signed number", SMALL.replace("policy-version 3", "policy-version +3")),
                Map.entry("a huge number", SMALL.replace("policy-version 3", "policy-version 99999999999999999999")),
                Map.entry("carriage returns", SMALL.replace("\n", "\r\n")),
                Map.entry("rules with no policy", SMALL.replace("policy-version 3", "policy-version 0")),
                Map.entry("position 0", SMALL.replace("rule 1 accept", "rule 0 accept")),
                Map.entry("a verdict misspelt", SMALL.replace("rule 2 deny", "rule 2 drop")),
                Map.entry("a raw space in a name", SMALL.replace("name=ssh%20", "name=ssh ")),
                Map.entry("a broken escape", SMALL.replace("%C3%A9", "%C3%A")),
                Map.entry("not UTF-8", SMALL.replace("%C3%A9", "%C3")),
                Map.entry("a host name", SMALL.replace("100.64.0.1/32 protocols=6", "relay.example/32 protocols=6")),
                Map.entry("a prefix too long", SMALL.replace("100.64.0.1/32 protocols=6", "100.64.0.1/33 protocols=6")),
                Map.entry("a protocol out of range", SMALL.replace("protocols=6,17", "protocols=6,256")),
                Map.entry("a port out of range", SMALL.replace("ports=22,", "ports=65536,")),
                Map.entry("a backwards range", SMALL.replace("8000-8080", "8080-8000")),
                Map.entry("an empty item", SMALL.replace("ports=22,", "ports=,22,")),
                Map.entry("tokens out of order", SMALL.replace("protocols= ports=", "ports= protocols=")),
                Map.entry("a token too many", SMALL.replace("protocols= ports=", "protocols= ports= x=")),
                Map.entry("something after the end", SMALL + "rule 3 accept\n"));
        damaged.forEach((what, text) -> {
            assertNotEquals(SMALL, text, what);
            assertThrows(FilterText.Unreadable.class, () -> FilterText.read(text), what);
        });
    }
}
