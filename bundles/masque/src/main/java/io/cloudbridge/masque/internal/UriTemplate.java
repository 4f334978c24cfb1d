package io.cloudbridge.masque.internal;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A MASQUE URI template (RFC 6570 level 1, as RFC 9298 section 2 and RFC 9484 section 3 use it):
 * literal text and {@code {name}} variables, e.g. the default
 * {@code /.well-known/masque/udp/{target_host}/{target_port}/}. Matching a request's
 * {@code :path} yields each variable's percent-decoded value. A variable's value never holds a
 * {@code /}, {@code ?} or {@code &} unencoded (simple expansion encodes them), so a value runs up
 * to the next literal.
 */
final class UriTemplate {
    private final String template;
    /** Literals and variables in order; a variable is a name in braces. */
    private final List<String> parts = new ArrayList<>();

    UriTemplate(String template) {
        if (!template.startsWith("/")) {
            throw new IllegalArgumentException("a template is a path starting with '/': " + template);
        }
        this.template = template;
        int i = 0;
        while (i < template.length()) {
            int open = template.indexOf('{', i);
            if (open < 0) {
                parts.add(template.substring(i));
                break;
            }
            if (open > i) {
                parts.add(template.substring(i, open));
            }
            int close = template.indexOf('}', open);
            if (close < 0) {
                throw new IllegalArgumentException("an unclosed variable in " + template);
            }
            String name = template.substring(open + 1, close);
            if (!name.matches("[A-Za-z0-9_]+")) {
                throw new IllegalArgumentException("variable '" + name + "' in " + template + " (simple names only)");
            }
            if (!parts.isEmpty() && isVariable(parts.get(parts.size() - 1))) {
                throw new IllegalArgumentException("two variables with nothing between them in " + template);
            }
            parts.add("{" + name + "}");
            i = close + 1;
        }
    }

    boolean hasVariable(String name) {
        return parts.contains("{" + name + "}");
    }

    private static boolean isVariable(String part) {
        return part.startsWith("{");
    }

    /**
     * The variables' decoded values when {@code path} matches; empty when it does not (another
     * resource), and {@link IllegalArgumentException} when it matches with a value that is not
     * valid percent-encoding.
     */
    Optional<Map<String, String>> match(String path) {
        Map<String, String> values = new LinkedHashMap<>();
        int at = 0;
        for (int p = 0; p < parts.size(); p++) {
            String part = parts.get(p);
            if (!isVariable(part)) {
                if (!path.startsWith(part, at)) {
                    return Optional.empty();
                }
                at += part.length();
                continue;
            }
            String next = p + 1 < parts.size() ? parts.get(p + 1) : null;
            int end = next == null ? path.length() : path.indexOf(next, at);
            if (end < 0) {
                return Optional.empty();
            }
            values.put(part.substring(1, part.length() - 1), decode(path.substring(at, end)));
            at = end;
        }
        return at == path.length() ? Optional.of(values) : Optional.empty();
    }

    /** Percent-decoding; a value must not hold an unencoded '/', '?', '#' or '&' either. */
    static String decode(String encoded) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(encoded.length());
        for (int i = 0; i < encoded.length(); i++) {
            char c = encoded.charAt(i);
            if (c == '%') {
                if (i + 2 >= encoded.length()) {
                    throw new IllegalArgumentException("a truncated percent-encoding in '" + encoded + "'");
                }
                int hi = Character.digit(encoded.charAt(i + 1), 16);
                int lo = Character.digit(encoded.charAt(i + 2), 16);
                if (hi < 0 || lo < 0) {
                    throw new IllegalArgumentException("an invalid percent-encoding in '" + encoded + "'");
                }
                out.write(hi << 4 | lo);
                i += 2;
            } else if (c == '/' || c == '?' || c == '#' || c == '&' || c <= 0x20 || c >= 0x7f) {
                throw new IllegalArgumentException("an unencoded '" + c + "' in '" + encoded + "'");
            } else {
                out.write(c);
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** Fills in the variables, percent-encoding each value as simple expansion does (unreserved characters stay). */
    String expand(Map<String, String> values) {
        StringBuilder out = new StringBuilder();
        for (String part : parts) {
            if (!isVariable(part)) {
                out.append(part);
                continue;
            }
            String value = values.get(part.substring(1, part.length() - 1));
            if (value == null) {
                throw new IllegalArgumentException("no value for " + part + " of " + template);
            }
            for (byte b : value.getBytes(StandardCharsets.UTF_8)) {
                char c = (char) (b & 0xff);
                if (c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
                    out.append(c);
                } else {
                    out.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                            .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
                }
            }
        }
        return out.toString();
    }

    @Override
    public String toString() {
        return template;
    }
}
