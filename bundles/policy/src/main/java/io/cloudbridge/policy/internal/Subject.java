package io.cloudbridge.policy.internal;

import io.cloudbridge.api.policy.Member;
import java.net.InetAddress;
import java.util.List;
import java.util.Set;

/**
 * One end of a flow as the rules see it: a member of the tenant (who it is and its addresses), or
 * an address that is no member's. {@code shown} is how an explanation names it.
 */
record Subject(String shown, String name, String user, Set<String> idpGroups, Set<String> tags, List<InetAddress> addresses) {

    static Subject of(Member m) {
        return new Subject("node:" + m.name(), m.name(), m.user(), m.idpGroups(), m.tags(), m.addresses());
    }

    static Subject address(InetAddress a) {
        return new Subject(text(a), "", "", Set.of(), Set.of(), List.of(a));
    }

    /** An address as people write it (RFC 5952 for IPv6: fd7a::7, not fd7a:0:0:0:0:0:0:7). */
    static String text(InetAddress a) {
        byte[] b = a.getAddress();
        if (b.length == 4) {
            return a.getHostAddress();
        }
        int[] words = new int[8];
        for (int i = 0; i < 8; i++) {
            words[i] = ((b[2 * i] & 0xff) << 8) | (b[2 * i + 1] & 0xff);
        }
        int bestStart = -1;
        int bestLength = 1; // a single zero word is not shortened
        for (int i = 0; i < 8; ) {
            int j = i;
            while (j < 8 && words[j] == 0) {
                j++;
            }
            if (j - i > bestLength) {
                bestStart = i;
                bestLength = j - i;
            }
            i = j == i ? i + 1 : j;
        }
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                out.append("::");
                i += bestLength - 1;
                continue;
            }
            if (out.length() > 0 && out.charAt(out.length() - 1) != ':') {
                out.append(':');
            }
            out.append(Integer.toHexString(words[i]));
        }
        return out.toString();
    }
}
