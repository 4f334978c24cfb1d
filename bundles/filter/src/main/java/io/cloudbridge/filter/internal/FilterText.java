package io.cloudbridge.filter.internal;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.policy.FilterRule;
import io.cloudbridge.api.policy.NodeFilter;
import io.cloudbridge.api.policy.PortRange;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The filter in force as text, for the state folder: a versioned, line-based format this bundle
 * writes and reads itself (no JSON library here), strict so that a damaged file is refused whole
 * rather than half believed.
 *
 * <pre>
 * cloudbridge-node-filter 1
 * policy-version 7
 * rules 2
 * rule 1 accept name=ssh sources=100.64.0.0/10,fd7a:115c:a1e0:0:0:0:0:0/48 destinations=100.64.0.5/32 protocols=6 ports=22,8000-8080
 * rule 2 deny name=everyone%20else sources=0.0.0.0/0 destinations=100.64.0.5/32 protocols= ports=
 * end
 * </pre>
 *
 * Every line ends with a newline, tokens are separated by one space and come in this order, an
 * empty value is an empty list ({@code protocols=} and {@code ports=}: any; {@code sources=}: a
 * group with no member), and a name is percent-encoded UTF-8 (only {@code A-Z a-z 0-9 - . _ ~}
 * stand for themselves). The rule count before and {@code end} after the rules make a cut file
 * visible even where a write was not atomic.
 */
final class FilterText {
    static final String MAGIC = "cloudbridge-node-filter";
    static final int FORMAT = 1;

    private static final int RULE_TOKENS = 8;
    private static final char[] HEX = "0123456789ABCDEF".toCharArray();

    private FilterText() {
    }

    /** A file that is not a filter this version writes: the line it stopped at, and why. */
    static final class Unreadable extends Exception {
        private static final long serialVersionUID = 1L;

        Unreadable(int line, String reason) {
            super("line " + line + ": " + reason);
        }
    }

    static String write(NodeFilter filter) {
        StringBuilder out = new StringBuilder();
        out.append(MAGIC).append(' ').append(FORMAT).append('\n');
        out.append("policy-version ").append(filter.policyVersion()).append('\n');
        out.append("rules ").append(filter.rules().size()).append('\n');
        for (FilterRule r : filter.rules()) {
            out.append("rule ").append(r.position()).append(' ').append(r.accept() ? "accept" : "deny")
                    .append(" name=").append(encode(r.name()))
                    .append(" sources=").append(join(r.sources()))
                    .append(" destinations=").append(join(r.destinations()))
                    .append(" protocols=").append(join(r.protocols().stream().sorted().toList()))
                    .append(" ports=").append(join(r.ports()))
                    .append('\n');
        }
        out.append("end\n");
        return out.toString();
    }

    static NodeFilter read(String text) throws Unreadable {
        if (!text.endsWith("\n")) {
            throw new Unreadable(1, "the file does not end with a complete line");
        }
        String[] lines = text.substring(0, text.length() - 1).split("\n", -1);
        String[] magic = lines[0].split(" ", -1);
        if (magic.length != 2 || !magic[0].equals(MAGIC)) {
            throw new Unreadable(1, "not a node filter file");
        }
        if (!magic[1].equals(Integer.toString(FORMAT))) {
            throw new Unreadable(1, "format " + magic[1] + " is not the one this version reads (" + FORMAT + ")");
        }
        long version = number(lines, 2, "policy-version");
        long count = number(lines, 3, "rules");
        if (count != lines.length - 4) {
            throw new Unreadable(3, count + " rules announced, " + Math.max(0, lines.length - 4) + " lines follow before the end");
        }
        List<FilterRule> rules = new ArrayList<>();
        for (int i = 3; i < lines.length - 1; i++) {
            rules.add(rule(lines[i], i + 1));
        }
        if (!lines[lines.length - 1].equals("end")) {
            throw new Unreadable(lines.length, "expected 'end'");
        }
        try {
            return new NodeFilter(version, rules);
        } catch (IllegalArgumentException e) {
            throw new Unreadable(2, e.getMessage());
        }
    }

    private static long number(String[] lines, int line, String key) throws Unreadable {
        if (lines.length < line) {
            throw new Unreadable(line, "the file ends before '" + key + "'");
        }
        String[] tokens = lines[line - 1].split(" ", -1);
        if (tokens.length != 2 || !tokens[0].equals(key)) {
            throw new Unreadable(line, "expected '" + key + " <number>'");
        }
        return decimal(tokens[1], line);
    }

    private static FilterRule rule(String line, int number) throws Unreadable {
        String[] t = line.split(" ", -1);
        if (t.length != RULE_TOKENS || !t[0].equals("rule")) {
            throw new Unreadable(number, "expected 'rule <position> accept|deny name= sources= destinations= protocols= ports='");
        }
        long position = decimal(t[1], number);
        if (position < 1 || position > Integer.MAX_VALUE) {
            throw new Unreadable(number, "rule position " + position);
        }
        boolean accept = switch (t[2]) {
            case "accept" -> true;
            case "deny" -> false;
            default -> throw new Unreadable(number, "'" + t[2] + "' is neither accept nor deny");
        };
        try {
            String name = decode(value(t[3], "name", number), number);
            List<IpPrefix> sources = list(value(t[4], "sources", number), IpPrefix::parse);
            List<IpPrefix> destinations = list(value(t[5], "destinations", number), IpPrefix::parse);
            Set<Integer> protocols = new LinkedHashSet<>(list(value(t[6], "protocols", number), FilterText::protocol));
            List<PortRange> ports = list(value(t[7], "ports", number), FilterText::ports);
            return new FilterRule((int) position, name, accept, sources, destinations, protocols, ports);
        } catch (IllegalArgumentException e) {
            throw new Unreadable(number, e.getMessage());
        }
    }

    private static String value(String token, String key, int line) throws Unreadable {
        if (!token.startsWith(key + "=")) {
            throw new Unreadable(line, "expected '" + key + "=' where '" + token + "' is");
        }
        return token.substring(key.length() + 1);
    }

    private static <T> List<T> list(String value, Function<String, T> parse) {
        List<T> items = new ArrayList<>();
        if (value.isEmpty()) {
            return items;
        }
        for (String item : value.split(",", -1)) {
            if (item.isEmpty()) {
                throw new IllegalArgumentException("an empty item in '" + value + "'");
            }
            items.add(parse.apply(item));
        }
        return items;
    }

    private static int protocol(String text) {
        long p = digits(text);
        if (p > 255) {
            throw new IllegalArgumentException("protocol " + text + " is not within 0-255");
        }
        return (int) p;
    }

    private static PortRange ports(String text) {
        int dash = text.indexOf('-');
        long first = digits(dash < 0 ? text : text.substring(0, dash));
        long last = dash < 0 ? first : digits(text.substring(dash + 1));
        if (first > 65_535 || last > 65_535) {
            throw new IllegalArgumentException("port range " + text + " is not within 0-65535");
        }
        return new PortRange((int) first, (int) last);
    }

    private static long decimal(String text, int line) throws Unreadable {
        try {
            return digits(text);
        } catch (IllegalArgumentException e) {
            throw new Unreadable(line, e.getMessage());
        }
    }

    /** Plain decimal digits, no sign, at most 18 of them: Long.parseLong would take "+7" and overflow on more. */
    private static long digits(String text) {
        if (text.isEmpty() || text.length() > 18 || !text.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new IllegalArgumentException("'" + text + "' is not a number");
        }
        return Long.parseLong(text);
    }

    private static String join(List<?> items) {
        return items.stream().map(Object::toString).collect(Collectors.joining(","));
    }

    static String encode(String name) {
        StringBuilder out = new StringBuilder();
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            if (unreserved(b)) {
                out.append((char) b);
            } else {
                out.append('%').append(HEX[(b >> 4) & 0x0f]).append(HEX[b & 0x0f]);
            }
        }
        return out.toString();
    }

    static String decode(String encoded, int line) throws Unreadable {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        for (int i = 0; i < encoded.length(); i++) {
            char c = encoded.charAt(i);
            if (c == '%' && i + 2 < encoded.length() && hex(encoded.charAt(i + 1)) >= 0 && hex(encoded.charAt(i + 2)) >= 0) {
                bytes.write(hex(encoded.charAt(i + 1)) << 4 | hex(encoded.charAt(i + 2)));
                i += 2;
            } else if (c < 0x80 && unreserved((byte) c)) {
                bytes.write(c);
            } else {
                throw new Unreadable(line, "the name '" + encoded + "' is not percent-encoded");
            }
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes.toByteArray())).toString();
        } catch (CharacterCodingException e) {
            throw new Unreadable(line, "the name '" + encoded + "' is not UTF-8");
        }
    }

    private static boolean unreserved(byte b) {
        return (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '-' || b == '.' || b == '_' || b == '~';
    }

    private static int hex(char c) {
        return Character.digit(c, 16) >= 0 && c < 0x80 ? Character.digit(c, 16) : -1;
    }
}
