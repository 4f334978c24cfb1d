package io.cloudbridge.control.relay.internal;

import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * {@code relay:key create|list|revoke}, {@code relay:tenants}, {@code relay:nodes [TENANT]},
 * {@code relay:node delete ID}, {@code relay:node tag ID TAGS}, {@code relay:fingerprint},
 * {@code relay:policy set|show|history|explain|delete}.
 */
@Component(service = RelayCommands.class, property = {
    "osgi.command.scope=relay",
    "osgi.command.function=key",
    "osgi.command.function=tenants",
    "osgi.command.function=nodes",
    "osgi.command.function=node",
    "osgi.command.function=fingerprint",
    "osgi.command.function=policy"
})
public final class RelayCommands {
    @Reference
    private RelayControlServer relay;

    /** {@code key create --tenant T [--reusable] [--expires 24h] [--tag tag:a,tag:b]}, {@code key list}, {@code key revoke ID}. */
    public String key(String... args) throws SQLException {
        if (args.length == 0) {
            return usage();
        }
        switch (args[0]) {
            case "create": {
                String tenant = null;
                boolean reusable = false;
                Duration expires = Duration.ofHours(24);
                List<String> tags = List.of();
                for (int i = 1; i < args.length; i++) {
                    switch (args[i]) {
                        case "--tenant" -> tenant = i + 1 < args.length ? args[++i] : null;
                        case "--reusable" -> reusable = true;
                        case "--expires" -> expires = duration(i + 1 < args.length ? args[++i] : "");
                        case "--tag" -> tags = tags(i + 1 < args.length ? args[++i] : "");
                        default -> throw new IllegalArgumentException("unknown option " + args[i] + "\n" + usage());
                    }
                }
                if (tenant == null || !tenant.matches("[A-Za-z0-9._-]{1,128}")) {
                    throw new IllegalArgumentException("--tenant NAME is needed (1-128 of A-Z a-z 0-9 . _ -)");
                }
                Instant now = Instant.now();
                String secret = relay.state().createPreAuthKey(tenant, reusable, now.plus(expires), now, tags);
                // Shown once, here only: the relay keeps a hash.
                return secret + "\n";
            }
            case "list": {
                StringBuilder out = new StringBuilder(String.format("%-14s %-20s %-9s %-8s %-22s %s%n", "ID", "TENANT", "REUSABLE", "STATE",
                "EXPIRES", "TAGS"));
                Instant now = Instant.now();
                for (RelayState.PreAuthKey k : relay.state().preAuthKeys()) {
                    String state = k.revoked() ? "revoked" : !now.isBefore(k.expires()) ? "expired"
                            : k.used() != null && !k.reusable() ? "used" : "valid";
                    out.append(String.format("%-14s %-20s %-9s %-8s %-22s %s%n", k.id(), k.tenant(), k.reusable(), state, k.expires(),
                            String.join(",", k.tags())));
                }
                return out.toString();
            }
            case "revoke":
                if (args.length != 2) {
                    return usage();
                }
                return relay.state().revokePreAuthKey(args[1]) ? "key " + args[1] + " revoked\n" : "no key " + args[1] + "\n";
            default:
                return usage();
        }
    }

    /** {@code tag:a,tag:b}: the names a policy's tags section defines, without the prefix. */
    static List<String> tags(String text) {
        List<String> out = new java.util.ArrayList<>();
        for (String t : text.split(",")) {
            if (!t.matches("tag:[A-Za-z0-9._@+=-]{1,128}")) {
                throw new IllegalArgumentException("'" + t + "' is not a tag: write tag:NAME (1-128 of A-Z a-z 0-9 . _ @ + = -),"
                        + " several separated by commas");
            }
            out.add(t.substring(4));
        }
        if (out.size() > 16) {
            throw new IllegalArgumentException("at most 16 tags");
        }
        return List.copyOf(new java.util.LinkedHashSet<>(out));
    }

    static Duration duration(String text) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d{1,6})([smhd])").matcher(text.toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException("a duration such as 30m, 24h or 7d, not '" + text + "'");
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> Duration.ofDays(n);
        };
    }

    private static String usage() {
        return "usage: relay:key create --tenant TENANT [--reusable] [--expires 24h] [--tag tag:NAME,...] | relay:key list"
                + " | relay:key revoke ID\n";
    }

    public String tenants() throws SQLException {
        StringBuilder out = new StringBuilder(String.format("%-24s %6s %9s%n", "TENANT", "NODES", "WATCHING"));
        for (String t : relay.state().tenants()) {
            out.append(String.format("%-24s %6d %9d%n", t, relay.state().nodes(t).size(), relay.service().maps().watchers(t)));
        }
        return out.toString();
    }

    public String nodes() throws SQLException {
        return nodeTable(relay.state().nodes(null));
    }

    public String nodes(String tenant) throws SQLException {
        return nodeTable(relay.state().nodes(tenant));
    }

    private static String nodeTable(List<RelayState.Node> nodes) {
        StringBuilder out = new StringBuilder(String.format("%-36s %-16s %-20s %-45s %-28s %-20s %-20s %s%n", "ID", "TENANT", "HOSTNAME",
                "KEY", "LAST SEEN", "USER", "TAGS", "NAME (node:)"));
        for (RelayState.Node n : nodes) {
            RelayState.Identity who = n.identity();
            out.append(String.format("%-36s %-16s %-20s %-45s %-28s %-20s %-20s %s%n", n.id(), n.tenant(), n.hostname(), n.key(), n.lastSeen(),
                    who.user().isEmpty() ? "-" : who.user(), who.tags().isEmpty() ? "-" : "tag:" + String.join(",tag:", who.tags()), who.name()));
        }
        return out.toString();
    }

    /** {@code node delete ID}. */
    public String node(String action, String id) throws SQLException {
        if (!"delete".equals(action)) {
            return "usage: relay:node delete ID | relay:node tag ID tag:NAME,... | relay:node tag ID none\n";
        }
        return relay.service().deleteNode(id).map(n -> "node " + id + " (" + n.hostname() + ") removed; its token is void\n")
                .orElse("no node " + id + "\n");
    }

    /** {@code node tag ID tag:a,tag:b} (or {@code none}): gives the node these tags instead of those it had. */
    public String node(String action, String id, String tagList) throws SQLException {
        if (!"tag".equals(action)) {
            return "usage: relay:node delete ID | relay:node tag ID tag:NAME,... | relay:node tag ID none\n";
        }
        List<String> tags = "none".equals(tagList) ? List.of() : tags(tagList);
        return relay.service().tagNode(id, tags) ? "node " + id + " now has tags " + (tags.isEmpty() ? "none" : String.join(",", tags)) + "\n"
                : "no node " + id + "\n";
    }

    /**
     * {@code policy set --tenant T FILE}, {@code policy show --tenant T}, {@code policy history --tenant T},
     * {@code policy explain --tenant T SRC DST PROTO/PORT}, {@code policy delete --tenant T}.
     */
    public String policy(org.apache.felix.service.command.CommandSession session, String... args) throws Exception {
        String by = io.cloudbridge.api.runtime.AdminSession.user(session == null ? null : session.get(io.cloudbridge.api.runtime.AdminSession.USER));
        List<String> rest = new java.util.ArrayList<>();
        String tenant = null;
        for (int i = 1; i < args.length; i++) {
            if (args[i].equals("--tenant")) {
                tenant = i + 1 < args.length ? args[++i] : null;
            } else {
                rest.add(args[i]);
            }
        }
        if (args.length == 0 || tenant == null || !tenant.matches("[A-Za-z0-9._-]{1,128}")) {
            return policyUsage();
        }
        TenantPolicies policies = relay.service().policies();
        switch (args[0]) {
            case "set": {
                if (rest.size() != 1) {
                    return policyUsage();
                }
                java.nio.file.Path file = java.nio.file.Path.of(rest.get(0));
                if (java.nio.file.Files.size(file) > io.cloudbridge.api.policy.PolicyCompiler.MAX_POLICY_BYTES) {
                    throw new IllegalArgumentException("policy refused: " + file + " is larger than "
                            + io.cloudbridge.api.policy.PolicyCompiler.MAX_POLICY_BYTES + " bytes; the policy in force stays");
                }
                String text = java.nio.file.Files.readString(file);
                try {
                    PolicyVersion v = policies.set(tenant, text, by);
                    return "tenant " + tenant + ": policy version " + v.version() + " in force (sha256 " + v.sha256() + ")\n";
                } catch (io.cloudbridge.api.policy.PolicyException e) {
                    throw new IllegalArgumentException("policy refused: " + file.getFileName() + ":" + (e.line() > 0 ? e.line() + ": " : " ")
                            + e.getMessage().replaceFirst("^line \\d+: ", "") + "; the policy in force stays", e);
                }
            }
            case "delete": {
                PolicyVersion v = policies.delete(tenant, by);
                return "tenant " + tenant + ": no policy (version " + v.version() + "): every node reaches every node\n";
            }
            case "show": {
                java.util.Optional<PolicyVersion> v = policies.current(tenant);
                if (v.isEmpty() || v.get().text() == null) {
                    return "tenant " + tenant + " has no policy: every node reaches every node\n";
                }
                return "# tenant " + tenant + ", policy version " + v.get().version() + ", set by " + v.get().createdBy() + " at "
                        + v.get().createdAt() + "\n" + v.get().text() + (v.get().text().endsWith("\n") ? "" : "\n");
            }
            case "history": {
                StringBuilder out = new StringBuilder(String.format("%-8s %-28s %-16s %s%n", "VERSION", "SET AT", "BY", "SHA256"));
                for (PolicyVersion v : policies.history(tenant)) {
                    out.append(String.format("%-8d %-28s %-16s %s%n", v.version(), v.createdAt(), v.createdBy(),
                            v.text() == null ? "(no policy)" : v.sha256()));
                }
                return out.toString();
            }
            case "explain": {
                if (rest.size() != 3) {
                    return policyUsage();
                }
                String[] flow = rest.get(2).split("/", 2);
                String protocol = flow[0].toLowerCase(java.util.Locale.ROOT);
                int port = 0;
                if (flow.length == 2) {
                    if (!flow[1].matches("\\d{1,5}")) {
                        throw new IllegalArgumentException("'" + rest.get(2) + "' is not PROTO/PORT (tcp/22, udp/53) or PROTO (icmp)");
                    }
                    port = Integer.parseInt(flow[1]);
                } else if (protocol.equals("tcp") || protocol.equals("udp")) {
                    throw new IllegalArgumentException(protocol + " needs a port: " + protocol + "/PORT");
                }
                java.util.Optional<io.cloudbridge.api.policy.Explanation> e = policies.explain(tenant, rest.get(0), rest.get(1), protocol, port);
                if (e.isEmpty()) {
                    return "tenant " + tenant + " has no policy: accepted (every node reaches every node)\n";
                }
                return (e.get().accepted() ? "ACCEPTED" : "DENIED") + " by " + e.get().decidedBy() + "\n  "
                        + String.join("\n  ", e.get().steps()) + "\n";
            }
            default:
                return policyUsage();
        }
    }

    private static String policyUsage() {
        return "usage: relay:policy set --tenant TENANT FILE | relay:policy show --tenant TENANT | relay:policy history --tenant TENANT\n"
                + "     | relay:policy explain --tenant TENANT SOURCE DESTINATION PROTO[/PORT] | relay:policy delete --tenant TENANT\n"
                + "  SOURCE, DESTINATION: a node name, an overlay address, or tag:NAME\n";
    }

    public String fingerprint() {
        return relay.fingerprint() + "\n";
    }
}
