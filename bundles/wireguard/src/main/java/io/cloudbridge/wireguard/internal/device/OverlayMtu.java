package io.cloudbridge.wireguard.internal.device;

import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The overlay MTU when none is configured, as wg-quick derives it: the MTU of the link (or route)
 * the peers' endpoints are reached through, less what WireGuard adds over IPv6 (the larger case),
 * and never below IPv6's minimum of 1280, which the overlay must carry.
 */
public final class OverlayMtu {
    private static final Logger LOG = LoggerFactory.getLogger(OverlayMtu.class);
    /** Outer IPv6 header 40, UDP 8, WireGuard's transport header 16 and tag 16. */
    static final int WIREGUARD_OVERHEAD = 80;
    public static final int MINIMUM = 1280;
    /** When no route can be asked (no endpoints and no default route): Ethernet's. */
    static final int ASSUMED_PATH_MTU = 1500;

    private OverlayMtu() {
    }

    /** The MTU for a device whose peers are at {@code endpoints} (entries may be null: endpoint unknown). */
    public static int derive(List<InetSocketAddress> endpoints) {
        List<List<String>> queries = new ArrayList<>();
        endpoints.stream().filter(Objects::nonNull).map(InetSocketAddress::getAddress).filter(Objects::nonNull).distinct()
                .forEach(a -> queries.add(List.of("ip", a instanceof Inet6Address ? "-6" : "-4", "-o", "route", "get",
                        a.getHostAddress())));
        if (queries.isEmpty()) {
            queries.add(List.of("ip", "-4", "-o", "route", "show", "default"));
            queries.add(List.of("ip", "-6", "-o", "route", "show", "default"));
        }
        int path = Integer.MAX_VALUE;
        for (List<String> query : queries) {
            path = Math.min(path, pathMtu(query));
        }
        if (path == Integer.MAX_VALUE) {
            path = ASSUMED_PATH_MTU;
        }
        return fromPath(path);
    }

    /** The overlay MTU over a path of {@code pathMtu}. */
    static int fromPath(int pathMtu) {
        return Math.max(MINIMUM, pathMtu - WIREGUARD_OVERHEAD);
    }

    private static int pathMtu(List<String> command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(5, TimeUnit.SECONDS) || p.exitValue() != 0) {
                return Integer.MAX_VALUE;
            }
            return routeMtu(out, dev -> {
                try {
                    return Integer.parseInt(Files.readString(Path.of("/sys/class/net", dev, "mtu")).trim());
                } catch (IOException | NumberFormatException e) {
                    return Integer.MAX_VALUE;
                }
            });
        } catch (IOException e) {
            LOG.debug("cannot ask the routing table ({}): {}", String.join(" ", command), e.toString());
            return Integer.MAX_VALUE;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Integer.MAX_VALUE;
        }
    }

    /**
     * The smallest MTU among the routes of {@code ip -o route} output: a route's own {@code mtu}
     * attribute, else its device's.
     */
    static int routeMtu(String ipOutput, java.util.function.ToIntFunction<String> deviceMtu) {
        int best = Integer.MAX_VALUE;
        for (String line : ipOutput.split("\n")) {
            String[] words = line.trim().split("\\s+");
            String dev = null;
            int mtu = Integer.MAX_VALUE;
            for (int i = 0; i + 1 < words.length; i++) {
                if (words[i].equals("dev")) {
                    dev = words[i + 1];
                } else if (words[i].equals("mtu")) {
                    try {
                        mtu = Integer.parseInt(words[i + 1]);
                    } catch (NumberFormatException ignored) {
                        // "mtu lock N": the next word is the number
                        if (i + 2 < words.length && words[i + 1].equals("lock")) {
                            mtu = Integer.parseInt(words[i + 2]);
                        }
                    }
                }
            }
            if (dev != null && dev.matches("[A-Za-z0-9_.@-]+")) {
                best = Math.min(best, Math.min(mtu, deviceMtu.applyAsInt(dev.contains("@") ? dev.substring(0, dev.indexOf('@')) : dev)));
            }
        }
        return best;
    }
}
