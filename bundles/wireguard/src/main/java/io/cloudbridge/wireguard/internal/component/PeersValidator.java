package io.cloudbridge.wireguard.internal.component;

import io.cloudbridge.api.runtime.ConfigurationValidator;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.osgi.service.component.annotations.Component;

/**
 * Refuses a {@code wireguard} edit whose peer entries or addresses do not parse, or whose MTU is
 * neither 0 (derived) nor one an IPv6 overlay can use, before it applies.
 */
@Component(property = ConfigurationValidator.SECTION + "=wireguard")
public final class PeersValidator implements ConfigurationValidator {

    @Override
    public List<String> validate(Map<String, Object> values) {
        List<String> problems = new ArrayList<>();
        if (values.get("peers") instanceof String[] peers) {
            for (int i = 0; i < peers.length; i++) {
                try {
                    PeerSpec.parse(peers[i]);
                } catch (IllegalArgumentException e) {
                    problems.add("peers[" + i + "]: " + e.getMessage());
                }
            }
        }
        if (values.get("addresses") instanceof String[] addresses) {
            for (String a : addresses) {
                try {
                    io.cloudbridge.api.net.IpPrefix.parse(a);
                } catch (IllegalArgumentException e) {
                    problems.add("addresses: '" + a + "' is not an address with prefix");
                }
            }
        }
        if (values.get("mtu") instanceof Integer mtu && mtu != 0 && mtu < 1280) {
            problems.add("mtu: " + mtu + " is below 1280, the least IPv6 allows; 0 derives it from the path");
        }
        return problems;
    }
}
