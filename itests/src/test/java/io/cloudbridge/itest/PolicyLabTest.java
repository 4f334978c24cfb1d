package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.boot.admin.AdminProtocol;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A tenant's access policy on real traffic: the namespace lab (a relay, alpha behind an
 * endpoint-independent NAT, bravo behind a symmetric one, charlie on the public segment signed in
 * with a pre-auth key that tags it {@code db}), nodes on real TUN devices, and flows opened with
 * real sockets in the nodes' namespaces ({@link PolicyProbe}). What is checked: allowed and denied
 * TCP and UDP ports and ICMP over IPv4 and IPv6, a port range, an ordered deny before a broader
 * accept, one-way rules (replies come back, the reverse is refused), a tag from a pre-auth key, a
 * node in no rule absent from the others' maps, a policy that fails its tests and one that does
 * not parse (both refused, the old one in force), a policy change that stops an open connection
 * within a second, a restarted node enforcing its kept filter while the relay is down, and a flood
 * of new flows against a small connection table. Needs root (CI runs as root).
 */
class PolicyLabTest {
    static final String PROBE = PolicyProbe.class.getName();

    @TempDir
    Path work;

    private ChaosLab lab;
    private final List<Process> probes = new ArrayList<>();

    private static String policy(String bravoRange) {
        return String.join("\n",
                "groups:",
                "  group:clients: [node:alpha]",
                "tags:",
                "  tag:db: []",
                "rules:",
                "  - name: not the proxy",
                "    action: deny",
                "    src: [group:clients]",
                "    dst: [node:bravo]",
                "    ports: [8080]",
                "  - name: clients to bravo",
                "    action: accept",
                "    src: [group:clients]",
                "    dst: [node:bravo]",
                "    proto: tcp",
                "    ports: [22, " + bravoRange + "]",
                "  - name: clients' dns",
                "    action: accept",
                "    src: [group:clients]",
                "    dst: [node:bravo]",
                "    proto: udp",
                "    ports: [53]",
                "  - name: ping bravo",
                "    action: accept",
                "    src: [group:clients]",
                "    dst: [node:bravo]",
                "    proto: [icmp, icmpv6]",
                "  - name: bravo to the database",
                "    action: accept",
                "    src: [node:bravo]",
                "    dst: [tag:db]",
                "    proto: tcp",
                "    ports: [5432]",
                "tests:",
                "  - src: alpha",
                "    accept: [bravo:22/tcp, bravo:53/udp, bravo/icmp]",
                "    deny: [bravo:8080/tcp, bravo:80/tcp, tag:db:5432/tcp]",
                "");
    }

    @Test
    void thePolicyDecidesWhoReachesWhom() throws Exception {
        ChaosLab.requireWhatItNeeds();
        lab = new ChaosLab(work, "cbp");
        // A small connection table, so that the flood below fills it.
        lab.nodeSections = "filter:\n  maxFlows: 256\n";
        lab.metrics = true; // the filter's counters on each node's /metrics
        try {
            lab.startOverlay();
            String dbKey = lab.admin(lab.relay, "relay:key create --tenant chaos --reusable --tag tag:db").trim();
            Daemon charlie = lab.joinCharlie(dbKey);
            Await.until(Duration.ofSeconds(30), "charlie registered", () -> charlie.whoami("status").equals("registered"));
            String[] alpha = addresses(lab.alpha);
            String[] bravo = addresses(lab.bravo);
            String[] db = addresses(charlie);
            serve("alpha", 22);
            serve("bravo", 22, 80, 8080, 8443, 53, 54);
            serve("charlie", 5432);
            // No policy: everyone reaches everyone.
            assertTrue(tcp("alpha", bravo[0], 80), "no policy: every port is open");
            assertTrue(tcp("bravo", alpha[0], 22));

            Path file = work.resolve("policy.yaml");
            Files.writeString(file, policy("8000-8999"));
            String set = lab.admin(lab.relay, "relay:policy set --tenant chaos " + file);
            assertTrue(set.contains("policy version 1 in force"), set);
            awaitPolicy(1, lab.alpha, lab.bravo, charlie);

            for (int family = 0; family < 2; family++) {
                String b = bravo[family];
                assertTrue(tcp("alpha", b, 22), "an allowed port opens: " + b);
                assertFalse(tcp("alpha", b, 80), "a port no rule names stays shut: " + b);
                assertTrue(tcp("alpha", b, 8443), "a port in the range opens: " + b);
                assertFalse(tcp("alpha", b, 8080), "the deny before the broader accept wins: " + b);
                assertTrue(udp("alpha", b, 53), "an allowed UDP port answers: " + b);
                assertFalse(udp("alpha", b, 54), "a UDP port no rule names does not: " + b);
                assertTrue(ping("alpha", b), "ICMP as the rule says: " + b);
                // One way: alpha's flows get their replies (above); bravo may not open flows to alpha.
                assertFalse(tcp("bravo", alpha[family], 22), "the reverse direction is refused: " + alpha[family]);
                assertFalse(ping("bravo", alpha[family]), "no rule lets bravo ping alpha: " + alpha[family]);
                // The tag from charlie's pre-auth key: bravo reaches the database, alpha does not.
                assertTrue(tcp("bravo", db[family], 5432), "the tagged node takes bravo's flow: " + db[family]);
                assertFalse(tcp("alpha", db[family], 5432), "and not alpha's: " + db[family]);
            }
            // A node in no rule with another is absent from that node's map; one in a rule is there.
            assertFalse(lab.alpha.exec("cb:peers").out().contains("charlie"), lab.alpha.exec("cb:peers").out());
            assertTrue(lab.bravo.exec("cb:peers").out().contains("charlie"), lab.bravo.exec("cb:peers").out());
            String explain = lab.admin(lab.relay, "relay:policy explain --tenant chaos alpha bravo tcp/8080");
            assertTrue(explain.startsWith("DENIED by rule 1 (not the proxy)"), explain);
            // The node's own view: the filter in force, its rules and what they let in and kept out.
            String shown = lab.bravo.exec("cb:policy").out();
            assertTrue(shown.contains("clients to bravo") && shown.contains("not the proxy"), shown);

            // The same counters on bravo's /metrics: drops by reason, new flows by rule and verdict.
            String metrics = output(probe("bravo", "get", "http://127.0.0.1:9464/metrics"));
            assertTrue(metrics.matches("(?s).*cloudbridge_filter_drops_total\\{[^}]*reason=\"default deny\"[^}]*\\} [1-9].*"), metrics);
            assertTrue(metrics.matches("(?s).*cloudbridge_filter_rule_hits_total\\{[^}]*rule=\"rule 1 \\(not the proxy\\)\",[^}]*"
                    + "verdict=\"deny\"[^}]*\\} [1-9].*"), metrics);
            assertTrue(metrics.contains("cloudbridge_filter_flows"), metrics);

            // A policy that fails its own tests, and one that does not parse: refused with the line, the old one stays.
            Files.writeString(file, policy("8000-8999").replace("ports: [53]", "ports: [5353]"));
            AdminProtocol.Response failing = lab.adminResponse(lab.relay, "relay:policy set --tenant chaos " + file);
            assertNotEquals(AdminProtocol.OK, failing.status());
            assertTrue(failing.output().contains("policy.yaml:36") && failing.output().contains("test failed"), failing.output());
            Files.writeString(file, "rules:\n  - action: accept\n    src: [group:clients\n");
            AdminProtocol.Response broken = lab.adminResponse(lab.relay, "relay:policy set --tenant chaos " + file);
            assertNotEquals(AdminProtocol.OK, broken.status());
            assertTrue(broken.output().contains("policy.yaml:3") && broken.output().contains("invalid YAML"), broken.output());
            assertTrue(lab.admin(lab.relay, "relay:policy show --tenant chaos").contains("policy version 1"));
            assertTrue(tcp("alpha", bravo[0], 8443), "the policy in force is still version 1");

            // An open connection the next policy denies stops within a second; the tunnel stays.
            Process stream = probe("alpha", "stream", bravo[0], "8443");
            AtomicLong lastEcho = new AtomicLong();
            Thread reader = follow(stream, lastEcho);
            Await.until(Duration.ofSeconds(10), "echoes on the open connection", () -> lastEcho.get() > 0);
            Files.writeString(file, policy("9000"));
            long changed = System.currentTimeMillis();
            lab.admin(lab.relay, "relay:policy set --tenant chaos " + file);
            try {
                Await.until(Duration.ofSeconds(5), "the denied connection silent for a second",
                        () -> System.currentTimeMillis() - Math.max(lastEcho.get(), changed) > 1000);
            } catch (AssertionError e) {
                throw new AssertionError(e.getMessage() + ": last echo " + (lastEcho.get() - changed) + " ms after the change, now "
                        + (System.currentTimeMillis() - changed) + " ms; bravo:\n" + lab.bravo.exec("cb:policy").out(), e);
            }
            long stoppedAfter = lastEcho.get() - changed;
            assertTrue(stoppedAfter < 1000, "the denied connection echoed " + stoppedAfter + " ms after the change");
            assertTrue(tcp("alpha", bravo[0], 22), "what the new policy allows still flows, the tunnel was not restarted");
            stream.destroy();
            reader.join(2000);
            awaitPolicy(2, lab.bravo);

            // A flood of new flows against bravo's table (its bound is 256 in this lab): bounded, evictions counted,
            // and the node still answers.
            assertEquals(0, probe("alpha", "flood", bravo[0], "20000", "2000").waitFor(), "the flood ran");
            String afterFlood = lab.bravo.exec("cb:policy").out();
            Matcher evictions = Pattern.compile("(\\d+) evicted").matcher(afterFlood);
            assertTrue(evictions.find() && Long.parseLong(evictions.group(1)) > 0, afterFlood);
            assertTrue(tcp("alpha", bravo[0], 22), "bravo still takes allowed flows after the flood");

            // The relay down, bravo restarted: it enforces the filter it kept.
            lab.relay.stop();
            lab.bravo.stop();
            lab.start(lab.bravo);
            String kept = lab.bravo.exec("cb:policy").out();
            assertTrue(kept.contains("version 2") && kept.contains("clients to bravo"), kept);
            lab.start(lab.relay);
            Await.until(Duration.ofSeconds(30), "bravo back on the relay", () -> lab.bravo.whoami("status").equals("registered"));
            Await.until(Duration.ofSeconds(30), "alpha reaching bravo again", () -> tcp("alpha", bravo[0], 22));
            assertFalse(tcp("alpha", bravo[0], 8443), "and only as the policy says");
        } finally {
            for (Process p : probes) {
                p.destroyForcibly();
            }
            lab.close();
        }
    }

    /** The node's overlay addresses, IPv4 then IPv6. */
    private static String[] addresses(Daemon node) {
        String[] both = node.whoami("address").split(" ");
        return new String[] {both[0].split("/")[0], both[1].split("/")[0]};
    }

    private void awaitPolicy(int version, Daemon... nodes) {
        for (Daemon n : nodes) {
            Await.until(Duration.ofSeconds(10), "policy version " + version + " in force on a node",
                    () -> n.exec("cb:policy").out().contains("version " + version));
        }
    }

    private Process probe(String node, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", lab.prefix + "-" + node,
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:TieredStopAtLevel=1", "-Xshare:auto",
                "-cp", Path.of(PolicyProbe.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString(), PROBE));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        probes.add(p);
        return p;
    }

    private static String output(Process p) throws Exception {
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(20, TimeUnit.SECONDS) && p.exitValue() == 0, out);
        return out;
    }

    private void serve(String node, int... ports) throws Exception {
        List<String> args = new ArrayList<>(List.of("serve"));
        for (int port : ports) {
            args.add(Integer.toString(port));
        }
        Process p = probe(node, args.toArray(new String[0]));
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        assertEquals("serving", out.readLine(), "the probe serves on " + node);
    }

    private boolean tcp(String node, String address, int port) {
        return run(node, "tcp", address, Integer.toString(port));
    }

    private boolean udp(String node, String address, int port) {
        return run(node, "udp", address, Integer.toString(port));
    }

    private boolean run(String node, String... args) {
        try {
            Process p = probe(node, args);
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return false;
            }
            return p.exitValue() == 0;
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private boolean ping(String node, String address) {
        return ChaosLab.shQuiet("ip", "netns", "exec", lab.prefix + "-" + node, "ping", "-c", "1", "-W", "2", address)
                .contains(" 1 received");
    }

    private static Thread follow(Process stream, AtomicLong lastEcho) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(stream.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (line.startsWith("echo ")) {
                        lastEcho.set(Long.parseLong(line.substring(5)));
                    }
                }
            } catch (Exception ended) {
                // the probe was stopped
            }
        }, "policy-stream");
        t.setDaemon(true);
        t.start();
        return t;
    }
}
