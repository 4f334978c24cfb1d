package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import io.cloudbridge.control.v1.ControlServiceGrpc;
import io.cloudbridge.control.v1.NodeInfo;
import io.cloudbridge.control.v1.RegisterRequest;
import io.cloudbridge.testing.Requirements;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.CookieManager;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sign-in at a real OpenID Provider (the certified npm oidc-provider, started here): a node with
 * client credentials and a node with the device authorization grant, approved through the
 * provider's own login and consent pages as a browser would, both admitted by a relay that verifies
 * the provider's access tokens against its JWKS; forged and tampered tokens refused.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OidcSignInTest {
    static final Path PROVIDER = Path.of("oidc").toAbsolutePath();

    @TempDir
    static Path work;
    Process provider;
    String issuer;
    int relayPort;
    int quicPort;
    Daemon relay;

    @BeforeAll
    void start() throws Exception {
        Requirements.requireTool("node", "apt-get install nodejs npm");
        Requirements.require(Files.isDirectory(PROVIDER.resolve("node_modules/oidc-provider")),
                "the OpenID Provider (npm oidc-provider) in itests/oidc/node_modules", "(cd itests/oidc && npm ci), as .ci/setup does");
        int port = RuntimeTestSupport.freeTcpPort();
        issuer = "http://127.0.0.1:" + port;
        ProcessBuilder pb = new ProcessBuilder("node", "provider.mjs").directory(PROVIDER.toFile()).redirectErrorStream(true);
        pb.environment().put("PORT", Integer.toString(port));
        provider = pb.start();
        BufferedReader out = new BufferedReader(new InputStreamReader(provider.getInputStream(), StandardCharsets.UTF_8));
        String line;
        StringBuilder seen = new StringBuilder();
        while ((line = out.readLine()) != null && !line.equals("listening")) {
            seen.append(line).append('\n');
        }
        assertTrue(line != null, "the provider started: " + seen);
        Thread drain = new Thread(() -> out.lines().forEach(l -> { }), "oidc-provider-output");
        drain.setDaemon(true);
        drain.start();

        relayPort = RuntimeTestSupport.freeTcpPort();
        quicPort = RuntimeTestSupport.freeUdpPort();
        relay = new Daemon(Files.createDirectories(work.resolve("relay")));
        RuntimeTestSupport.writeOwnerOnly(relay.config, String.join("\n",
                "kernel:", "  features: [core, shell, relay, masque]",
                "relay:", "  listenAddress: 127.0.0.1", "  controlPort: " + relayPort, "  jwksPort: 0",
                "listeners:", "  address: 127.0.0.1", "  tlsPort: " + RuntimeTestSupport.freeTcpPort(), "  quicPort: " + quicPort,
                "  stunPort: -1",
                "identity:", "  issuer: " + issuer, "  audience: urn:cloudbridge:relay", "  tenantClaim: tenant",
                "masque:", "  allow: [acme=127.0.0.1/32]",
                ""));
        relay.start();
        Await.until(Duration.ofSeconds(20), "the relay listening", () -> relay.logText().contains("relay control service listening")
                && relay.logText().contains("relay QUIC protocol h3"));
    }

    @AfterAll
    void stop() throws Exception {
        if (relay != null) {
            relay.close();
        }
        if (provider != null) {
            provider.destroy();
            provider.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private Daemon node(String name, String... oidc) throws Exception {
        Path dir = Files.createDirectories(work.resolve(name));
        Daemon node = new Daemon(dir);
        List<String> sections = new ArrayList<>(List.of("oidc:", "  issuer: " + issuer));
        for (String o : oidc) {
            sections.add("  " + o);
        }
        // Over the relay's QUIC listener, so that the nodes' overlay carries the policy test's echoes.
        RuntimeTestSupport.writeOwnerOnly(node.config, RuntimeTestSupport.nodeYaml(dir, name, relayPort, sections.toArray(new String[0]))
                .replace("  features: [core, shell, client]", "  features: [core, shell, client, transport-quic]")
                .replace("  maxBackoffSeconds: 2", "  maxBackoffSeconds: 2\n  transports: [quic://127.0.0.1:" + quicPort + "]"));
        return node;
    }

    @Test
    void serviceAccountsAndPeopleSignInAndLandInTheirTenants() throws Exception {
        Path acmeSecret = work.resolve("svc-acme.secret");
        RuntimeTestSupport.writeOwnerOnly(acmeSecret, "svc-acme-secret\n");
        Path betaSecret = work.resolve("svc-beta.secret");
        RuntimeTestSupport.writeOwnerOnly(betaSecret, "svc-beta-secret\n");
        try (Daemon service = node("service", "flow: client-credentials", "clientId: svc-acme", "clientSecretFile: " + acmeSecret).start();
                Daemon other = node("other", "flow: client-credentials", "clientId: svc-beta", "clientSecretFile: " + betaSecret).start();
                Daemon person = node("person", "flow: device", "clientId: cloudbridge-node").start()) {
            Await.until(Duration.ofSeconds(20), "the service account registered", () -> service.whoami("status").equals("registered"));
            assertEquals("acme", service.whoami("tenant"));
            Await.until(Duration.ofSeconds(20), "the beta service registered", () -> other.whoami("status").equals("registered"));
            assertEquals("beta", other.whoami("tenant"));

            // The person: 'cloudbridge login' shows where to approve, and waits until the node is signed in.
            Await.until(Duration.ofSeconds(20), "the person's node up, not signed in",
                    () -> person.whoami("status").startsWith("not signed in"));
            Process login = new ProcessBuilder(Daemon.SCRIPT.toString(), "login", "--config", person.config.toString(), "--state",
                    person.state.toString()).redirectErrorStream(true).start();
            BufferedReader loginOut = new BufferedReader(new InputStreamReader(login.getInputStream(), StandardCharsets.UTF_8));
            StringBuilder shown = new StringBuilder();
            String l;
            while ((l = loginOut.readLine()) != null) {
                shown.append(l).append('\n');
                if (l.startsWith("The code is good until")) {
                    break;
                }
            }
            Matcher code = Pattern.compile("enter the code\\s+(\\S+)").matcher(shown);
            Matcher uri = Pattern.compile("open\\s+(http\\S+)").matcher(shown);
            assertTrue(code.find() && uri.find(), shown.toString());
            assertTrue(shown.toString().contains("█"), "a QR code is drawn: " + shown);
            assertTrue(person.exec("cb:login", "status").out().startsWith("waiting for approval"));
            approveInBrowser(uri.group(1) + "?user_code=" + URLEncoder.encode(code.group(1), StandardCharsets.UTF_8), "alice");
            String rest = loginOut.lines().collect(java.util.stream.Collectors.joining("\n")); // until it exits
            assertTrue(login.waitFor(60, TimeUnit.SECONDS), "cloudbridge login returns once approved");
            assertEquals(0, login.exitValue(), shown + rest);
            assertTrue(rest.contains("signed in"), rest);
            Await.until(Duration.ofSeconds(30), "the person's node registered after approval",
                    () -> person.whoami("status").equals("registered"));
            assertEquals("acme", person.whoami("tenant"));
            assertEquals("signed in\n", person.exec("cb:login", "status").out());

            Await.until(Duration.ofSeconds(5), "the person's node sees the service in acme",
                    () -> person.exec("cb:peers").out().contains("service"));
            assertTrue(!person.exec("cb:peers").out().contains("other"), "nothing of tenant beta");
            assertTrue(!other.exec("cb:peers").out().contains("service"), "nothing of tenant acme");

            // The provider's group claim names nodes in the tenant's policy: alice's node (engineering)
            // may ping the service account's (ops); nothing lets the service open a flow to alice's.
            Path policy = work.resolve("acme-policy.yaml");
            Files.writeString(policy, String.join("\n", "rules:", "  - name: engineering to ops", "    action: accept",
                    "    src: [idp:engineering]", "    dst: [idp:ops]", "    proto: [icmp, icmpv6]",
                    "tests:", "  - src: user:alice", "    accept: [idp:ops/icmp]", "    deny: [idp:ops:22/tcp]", ""));
            Daemon.Result set = relay.exec("relay:policy", "set", "--tenant", "acme", policy.toString());
            assertTrue(set.out().contains("policy version 1 in force"), set.out() + set.err());
            String allowed = relay.exec("relay:policy", "explain", "--tenant", "acme", "person", "service", "icmp").out();
            assertTrue(allowed.startsWith("ACCEPTED by rule 1 (engineering to ops)"), allowed);
            String refused = relay.exec("relay:policy", "explain", "--tenant", "acme", "service", "person", "icmp").out();
            assertTrue(refused.startsWith("DENIED by no rule matched"), refused);
            for (Daemon n : List.of(service, person)) {
                Await.until(Duration.ofSeconds(10), "the policy in force on the node", () -> n.exec("cb:policy").out().contains("version 1"));
            }
            // The service's node lets in ICMP from alice's node's addresses, by the rule; alice's lets in nothing
            // (replies to its own flows aside). Both in userspace mode, where the engine answers echoes itself.
            String personAddress = person.whoami("address").split("/")[0];
            String serviceAddress = service.whoami("address").split("/")[0];
            String serviceFilter = service.exec("cb:policy").out();
            assertTrue(serviceFilter.contains("rule 1 (engineering to ops) accept from " + personAddress + "/32"), serviceFilter);
            Await.until(Duration.ofSeconds(20), "both nodes on the relay over QUIC", () -> person.exec("cb:paths").out()
                    .startsWith("relay path: quic") && service.exec("cb:paths").out().startsWith("relay path: quic"));
            Daemon.Result ping = person.exec("cb:ping", serviceAddress);
            assertTrue(ping.exit() == 0 && ping.out().contains("reply from " + serviceAddress), "alice's node may ping the service's: "
                    + ping.out() + ping.err() + "\nservice:\n" + service.exec("cb:policy").out());
            Daemon.Result back = service.exec("cb:ping", personAddress, "2");
            assertTrue(!back.out().contains("reply from"), "the service's node may not ping alice's: " + back.out());
            String personFilter = person.exec("cb:policy").out();
            Matcher refusedEchoes = Pattern.compile("default deny (\\d+)").matcher(personFilter);
            assertTrue(personFilter.startsWith("policy version 1: 0 rules") && refusedEchoes.find()
                    && Long.parseLong(refusedEchoes.group(1)) > 0, "alice's node refused the service's echoes: " + personFilter);
        }
    }

    /** Forged and altered provider tokens: each a clear refusal. */
    /** An access token for the relay from the provider, by client credentials (the service account of tenant acme). */
    private String accessToken() throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        String form = "grant_type=client_credentials&resource=" + URLEncoder.encode("urn:cloudbridge:relay", StandardCharsets.UTF_8);
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(issuer + "/token"))
                .header("Authorization", "Basic " + Base64.getEncoder().encodeToString("svc-acme:svc-acme-secret".getBytes()))
                .header("Content-Type", "application/x-www-form-urlencoded").POST(HttpRequest.BodyPublishers.ofString(form)).build(),
                HttpResponse.BodyHandlers.ofString());
        Matcher m = Pattern.compile("\"access_token\":\"([^\"]+)\"").matcher(r.body());
        assertTrue(m.find(), r.body());
        return m.group(1);
    }

    /**
     * The MASQUE proxy takes the provider's access tokens too (Authorization: Bearer), with the
     * tenant their claim names: a tunnel opens for the service account of acme (whose tenant may
     * reach loopback by masque.allow) and carries a datagram both ways; a token with its tenant
     * claim changed is refused with 401.
     */
    @Test
    void anAccessTokenOpensAMasqueTunnelAndAForgedOneIsRefused() throws Exception {
        String good = accessToken();
        String[] parts = good.split("\\.");
        String payload = new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8);
        String tampered = parts[0] + "." + Base64.getUrlEncoder().withoutPadding().encodeToString(
                payload.replace("\"acme\"", "\"beta\"").getBytes()) + "." + parts[2];
        try (java.net.DatagramSocket echo = new java.net.DatagramSocket(0, java.net.InetAddress.getLoopbackAddress())) {
            Thread echoing = new Thread(() -> {
                byte[] buf = new byte[1500];
                while (!echo.isClosed()) {
                    try {
                        java.net.DatagramPacket p = new java.net.DatagramPacket(buf, buf.length);
                        echo.receive(p);
                        echo.send(new java.net.DatagramPacket(buf, p.getLength(), p.getSocketAddress()));
                    } catch (java.io.IOException e) {
                        return;
                    }
                }
            }, "udp-echo");
            echoing.setDaemon(true);
            echoing.start();
            tech.kwik.flupke.Http3Client client = (tech.kwik.flupke.Http3Client) tech.kwik.flupke.Http3Client.newBuilder()
                    .disableCertificateCheck().connectTimeout(Duration.ofSeconds(5)).build();
            URI target = URI.create("https://127.0.0.1:" + quicPort + "/.well-known/masque/udp/127.0.0.1/" + echo.getLocalPort() + "/");
            tech.kwik.flupke.HttpError refused = org.junit.jupiter.api.Assertions.assertThrows(tech.kwik.flupke.HttpError.class,
                    () -> client.sendExtendedConnect(HttpRequest.newBuilder(target).header("capsule-protocol", "?1")
                            .header("authorization", "Bearer " + tampered).build(), "connect-udp", "https"));
            assertEquals(401, refused.getStatusCode());
            tech.kwik.flupke.HttpStream stream = client.sendExtendedConnect(HttpRequest.newBuilder(target).header("capsule-protocol", "?1")
                    .header("authorization", "Bearer " + good).build(), "connect-udp", "https");
            tech.kwik.flupke.core.CapsuleProtocolStream capsules = new tech.kwik.flupke.impl.CapsuleProtocolStreamImpl(stream);
            capsules.send(new tech.kwik.flupke.core.GenericCapsule(0x00, new byte[] {0x00, 'p', 'i', 'n', 'g'}));
            tech.kwik.flupke.core.Capsule back = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return capsules.receive();
                } catch (java.io.IOException e) {
                    throw new RuntimeException(e);
                }
            }).get(5, TimeUnit.SECONDS);
            assertEquals("\u0000ping", new String(((tech.kwik.flupke.core.GenericCapsule) back).getData(), StandardCharsets.UTF_8));
            String tunnels = relay.exec("masque:tunnels").out();
            assertTrue(tunnels.contains("acme") && tunnels.contains("user svc-acme"), tunnels);
            capsules.close();
        }
    }

    @Test
    void forgedProviderTokensAreRefused() throws Exception {
        String good = accessToken();
        String[] parts = good.split("\\.");
        Base64.Decoder d = Base64.getUrlDecoder();
        Base64.Encoder e = Base64.getUrlEncoder().withoutPadding();
        String payload = new String(d.decode(parts[1]), StandardCharsets.UTF_8);
        String tampered = parts[0] + "." + e.encodeToString(payload.replace("\"acme\"", "\"beta\"").getBytes()) + "." + parts[2];
        String none = e.encodeToString("{\"alg\":\"none\",\"typ\":\"at+jwt\"}".getBytes()) + "." + parts[1] + ".";
        String hs256 = e.encodeToString("{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"test-es256\"}".getBytes()) + "." + parts[1] + "."
                + parts[2];
        String unknownKid = e.encodeToString("{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"nobody\"}".getBytes()) + "." + parts[1] + "."
                + parts[2];
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", relayPort)
                .sslContext(GrpcSslContexts.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE).build()).build();
        // A well-formed key (random bytes), so that the token is what the relay refuses.
        byte[] forgerKey = new byte[32];
        new java.security.SecureRandom().nextBytes(forgerKey);
        try {
            Map<String, String> expected = new LinkedHashMap<>();
            expected.put(tampered, "access token: bad signature");
            expected.put(none, "access token: ");
            expected.put(hs256, "access token: ");
            expected.put(unknownKid, "access token: ");
            expected.put("not-a-jwt", "access token: malformed token");
            for (Map.Entry<String, String> c : expected.entrySet()) {
                StatusRuntimeException refused = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
                        () -> ControlServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS).register(
                                RegisterRequest.newBuilder().setOidcAccessToken(c.getKey()).setNode(NodeInfo.newBuilder()
                                        .setWireguardPublicKey(ByteString.copyFrom(forgerKey)).setHostname("forger")).build()));
                assertEquals(Status.Code.UNAUTHENTICATED, refused.getStatus().getCode());
                assertTrue(refused.getStatus().getDescription().startsWith(c.getValue()), refused.getStatus().getDescription());
            }
            assertTrue(relay.logText().contains("control request refused: access token"), "security log events");
        } finally {
            channel.shutdownNow();
        }
    }

    /** Walks the provider's pages as a browser does: each page's form submitted, the login filled in, consent given. */
    static void approveInBrowser(String start, String user) throws Exception {
        HttpClient browser = HttpClient.newBuilder().cookieHandler(new CookieManager()).followRedirects(HttpClient.Redirect.ALWAYS).build();
        String page = browser.send(HttpRequest.newBuilder(URI.create(start)).GET().build(), HttpResponse.BodyHandlers.ofString()).body();
        URI base = URI.create(start);
        for (int step = 0; step < 10; step++) {
            Matcher form = Pattern.compile("<form[^>]*action=\"([^\"]*)\"").matcher(page);
            if (!form.find()) {
                assertTrue(page.contains("Sign-in Success"), "the provider's pages end in success: " + page);
                return;
            }
            Map<String, String> fields = new LinkedHashMap<>();
            Matcher input = Pattern.compile("<input[^>]*name=\"([^\"]+)\"(?:[^>]*value=\"([^\"]*)\")?").matcher(page);
            while (input.find()) {
                fields.put(input.group(1), input.group(2) == null ? "" : input.group(2));
            }
            fields.computeIfPresent("login", (k, v) -> user);
            fields.computeIfPresent("password", (k, v) -> "any password");
            if (page.contains("name=\"confirm\"") || page.contains("Confirm")) {
                fields.putIfAbsent("confirm", "yes");
            }
            StringJoiner body = new StringJoiner("&");
            fields.forEach((k, v) -> body.add(URLEncoder.encode(k, StandardCharsets.UTF_8) + "=" + URLEncoder.encode(v, StandardCharsets.UTF_8)));
            page = browser.send(HttpRequest.newBuilder(base.resolve(form.group(1))).header("Content-Type", "application/x-www-form-urlencoded")
                    .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build(), HttpResponse.BodyHandlers.ofString()).body();
        }
        throw new AssertionError("the provider's pages did not end: " + page);
    }
}
