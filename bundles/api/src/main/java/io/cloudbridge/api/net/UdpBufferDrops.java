package io.cloudbridge.api.net;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The UDP datagrams the kernel dropped for want of socket buffer room, over IPv4 and IPv6, in this
 * network namespace and for every socket in it (Linux's {@code RcvbufErrors} and
 * {@code SndbufErrors}). The last queue on a relayed path that the daemon's own counters cannot
 * see: a reading loop that falls behind a burst loses datagrams here.
 *
 * @param receive datagrams dropped because a socket's receive buffer was full
 * @param send    datagrams dropped because a socket's send buffer was full
 */
public record UdpBufferDrops(long receive, long send) {
    private static final Path SNMP = Path.of("/proc/net/snmp");
    private static final Path SNMP6 = Path.of("/proc/net/snmp6");

    /** This namespace's counters, or empty where the system keeps none that can be read (not Linux). */
    public static Optional<UdpBufferDrops> read() {
        try {
            if (!Files.isReadable(SNMP)) {
                return Optional.empty();
            }
            UdpBufferDrops v4 = fromSnmp(Files.readAllLines(SNMP));
            UdpBufferDrops v6 = Files.isReadable(SNMP6) ? fromSnmp6(Files.readAllLines(SNMP6)) : new UdpBufferDrops(0, 0);
            return Optional.of(new UdpBufferDrops(v4.receive + v6.receive, v4.send + v6.send));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** From /proc/net/snmp: a "Udp:" line of names, then one of values. */
    static UdpBufferDrops fromSnmp(List<String> lines) {
        for (int i = 0; i + 1 < lines.size(); i++) {
            if (lines.get(i).startsWith("Udp: ") && lines.get(i + 1).startsWith("Udp: ")) {
                List<String> names = List.of(lines.get(i).trim().split("\\s+"));
                String[] values = lines.get(i + 1).trim().split("\\s+");
                return new UdpBufferDrops(value(names, values, "RcvbufErrors"), value(names, values, "SndbufErrors"));
            }
        }
        return new UdpBufferDrops(0, 0);
    }

    /** From /proc/net/snmp6: a name and a value per line. */
    static UdpBufferDrops fromSnmp6(List<String> lines) {
        long receive = 0;
        long send = 0;
        for (String line : lines) {
            String[] f = line.trim().split("\\s+");
            if (f.length == 2 && f[0].equals("Udp6RcvbufErrors")) {
                receive = Long.parseLong(f[1]);
            } else if (f.length == 2 && f[0].equals("Udp6SndbufErrors")) {
                send = Long.parseLong(f[1]);
            }
        }
        return new UdpBufferDrops(receive, send);
    }

    private static long value(List<String> names, String[] values, String name) {
        int at = names.indexOf(name);
        return at > 0 && at < values.length ? Long.parseLong(values[at]) : 0;
    }

    /** A line for the shell: what was dropped, and where. */
    public String describe() {
        return "kernel: " + receive + " UDP datagrams dropped for want of receive buffer room, " + send
                + " of send buffer room (every socket in this network namespace)";
    }
}
