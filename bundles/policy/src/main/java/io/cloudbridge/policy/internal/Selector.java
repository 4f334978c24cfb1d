package io.cloudbridge.policy.internal;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.policy.PolicyException;

/**
 * What a rule's {@code src} or {@code dst} names, and what a group lists: everyone ({@code *}), a
 * node by name, an OpenID user, an identity provider's group, a group of the policy, a tag, a
 * named host, or an address or prefix.
 */
record Selector(Kind kind, String name, IpPrefix prefix) {

    enum Kind {
        ANY("*"), NODE("node:"), USER("user:"), IDP_GROUP("idp:"), GROUP("group:"), TAG("tag:"), HOST("host:"), PREFIX("");

        final String prefix;

        Kind(String prefix) {
            this.prefix = prefix;
        }

        /** Whether it names members by who they are, not by address. */
        boolean byIdentity() {
            return this != HOST && this != PREFIX;
        }
    }

    /** Names of groups, tags, hosts, nodes and users: no spaces, no control characters, bounded. */
    static final java.util.regex.Pattern NAME = java.util.regex.Pattern.compile("[A-Za-z0-9._@+=-]{1,128}");

    static Selector parse(String text, int line) throws PolicyException {
        if (text.equals("*")) {
            return new Selector(Kind.ANY, "*", null);
        }
        for (Kind k : Kind.values()) {
            if (k != Kind.ANY && k != Kind.PREFIX && text.startsWith(k.prefix)) {
                String name = text.substring(k.prefix.length());
                if (!NAME.matcher(name).matches()) {
                    throw new PolicyException(line, "'" + shown(text) + "': a " + k.prefix + " name is 1-128 of A-Z a-z 0-9 . _ @ + = -");
                }
                return new Selector(k, name, null);
            }
        }
        String host = text.indexOf('/') < 0 ? text : text.substring(0, text.indexOf('/'));
        if (IpPrefix.isAddressLiteral(host)) {
            try {
                return new Selector(Kind.PREFIX, text, IpPrefix.parse(text));
            } catch (IllegalArgumentException e) {
                throw new PolicyException(line, "'" + shown(text) + "' is not an address or prefix");
            }
        }
        throw new PolicyException(line, "'" + shown(text) + "' names nothing: write *, node:NAME, user:SUBJECT, idp:GROUP,"
                + " group:NAME, tag:NAME, host:NAME, or an address or prefix");
    }

    /**
     * As {@link #parse}, and a bare name is a node's: how tests and explanations name the ends of
     * a flow ("db-1:5432/tcp").
     */
    static Selector parseEnd(String text, int line) throws PolicyException {
        boolean bare = !text.contains(":") && !text.equals("*") && !IpPrefix.isAddressLiteral(text.indexOf('/') < 0 ? text
                : text.substring(0, text.indexOf('/')));
        return parse(bare ? Kind.NODE.prefix + text : text, line);
    }

    /** Text from the file as an error message may show it: bounded, one line. */
    static String shown(String text) {
        String oneLine = text.replaceAll("\\p{Cntrl}", "?");
        return oneLine.length() > 80 ? oneLine.substring(0, 80) + "..." : oneLine;
    }

    @Override
    public String toString() {
        return kind == Kind.ANY ? "*" : kind == Kind.PREFIX ? name : kind.prefix + name;
    }
}
