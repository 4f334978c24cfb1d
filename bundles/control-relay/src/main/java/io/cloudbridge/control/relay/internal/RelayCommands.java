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
 * {@code relay:node delete ID}, {@code relay:fingerprint}.
 */
@Component(service = RelayCommands.class, property = {
    "osgi.command.scope=relay",
    "osgi.command.function=key",
    "osgi.command.function=tenants",
    "osgi.command.function=nodes",
    "osgi.command.function=node",
    "osgi.command.function=fingerprint"
})
public final class RelayCommands {
    @Reference
    private RelayControlServer relay;

    /** {@code key create --tenant T [--reusable] [--expires 24h]}, {@code key list}, {@code key revoke ID}. */
    public String key(String... args) throws SQLException {
        if (args.length == 0) {
            return usage();
        }
        switch (args[0]) {
            case "create": {
                String tenant = null;
                boolean reusable = false;
                Duration expires = Duration.ofHours(24);
                for (int i = 1; i < args.length; i++) {
                    switch (args[i]) {
                        case "--tenant" -> tenant = i + 1 < args.length ? args[++i] : null;
                        case "--reusable" -> reusable = true;
                        case "--expires" -> expires = duration(i + 1 < args.length ? args[++i] : "");
                        default -> throw new IllegalArgumentException("unknown option " + args[i] + "\n" + usage());
                    }
                }
                if (tenant == null || !tenant.matches("[A-Za-z0-9._-]{1,128}")) {
                    throw new IllegalArgumentException("--tenant NAME is needed (1-128 of A-Z a-z 0-9 . _ -)");
                }
                Instant now = Instant.now();
                String secret = relay.state().createPreAuthKey(tenant, reusable, now.plus(expires), now);
                // Shown once, here only: the relay keeps a hash.
                return secret + "\n";
            }
            case "list": {
                StringBuilder out = new StringBuilder(String.format("%-14s %-20s %-9s %-8s %s%n", "ID", "TENANT", "REUSABLE", "STATE", "EXPIRES"));
                Instant now = Instant.now();
                for (RelayState.PreAuthKey k : relay.state().preAuthKeys()) {
                    String state = k.revoked() ? "revoked" : !now.isBefore(k.expires()) ? "expired"
                            : k.used() != null && !k.reusable() ? "used" : "valid";
                    out.append(String.format("%-14s %-20s %-9s %-8s %s%n", k.id(), k.tenant(), k.reusable(), state, k.expires()));
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
        return "usage: relay:key create --tenant TENANT [--reusable] [--expires 24h] | relay:key list | relay:key revoke ID\n";
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
        StringBuilder out = new StringBuilder(String.format("%-36s %-16s %-20s %-45s %s%n", "ID", "TENANT", "HOSTNAME", "KEY", "LAST SEEN"));
        for (RelayState.Node n : nodes) {
            out.append(String.format("%-36s %-16s %-20s %-45s %s%n", n.id(), n.tenant(), n.hostname(), n.key(), n.lastSeen()));
        }
        return out.toString();
    }

    /** {@code node delete ID}. */
    public String node(String action, String id) throws SQLException {
        if (!"delete".equals(action)) {
            return "usage: relay:node delete ID\n";
        }
        return relay.service().deleteNode(id).map(n -> "node " + id + " (" + n.hostname() + ") removed; its token is void\n")
                .orElse("no node " + id + "\n");
    }

    public String fingerprint() {
        return relay.fingerprint() + "\n";
    }
}
