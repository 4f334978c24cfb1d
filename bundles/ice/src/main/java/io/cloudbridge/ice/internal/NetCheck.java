package io.cloudbridge.ice.internal;

import io.cloudbridge.api.transport.HomeRelay;
import io.cloudbridge.api.transport.RelayEndpoint;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import org.ice4j.Transport;
import org.ice4j.TransportAddress;
import org.ice4j.socket.IceUdpSocketWrapper;
import org.ice4j.StunMessageEvent;
import org.ice4j.attribute.Attribute;
import org.ice4j.attribute.MappedAddressAttribute;
import org.ice4j.attribute.XorMappedAddressAttribute;
import org.ice4j.message.Message;
import org.ice4j.message.MessageFactory;
import org.ice4j.message.Response;
import org.ice4j.stack.StunStack;
import org.ice4j.stunclient.BlockingRequestSender;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.metatype.annotations.Designate;

/**
 * {@code cb:netcheck}: what the node's UDP looks like from outside, asked of STUN servers (the
 * home relay's responder unless others are configured) from one socket: whether UDP gets out at
 * all, the public endpoint the node's packets leave its NAT with, the round trip, and, with two
 * servers or more, whether the NAT keeps one mapping for every destination (RFC 4787's
 * endpoint-independent mapping, which hole punching needs on at least one side) or not.
 */
@Component(service = NetCheck.class, configurationPid = "cloudbridge.ice", property = {
    "osgi.command.scope=cb",
    "osgi.command.function=netcheck"
})
@Designate(ocd = IceConfig.class)
public final class NetCheck {
    private volatile IceConfig config;

    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC)
    private volatile HomeRelay home;

    /** Hole punching, for its own view: what its socket's STUN gathering saw, and what it dropped. */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC)
    private volatile IceAgent agent;

    @Activate
    @Modified
    void configure(IceConfig c) {
        this.config = c;
    }

    /** One server's answer: the endpoint it saw and the round trip, or why there is none. */
    record Answer(String server, TransportAddress serverAddress, TransportAddress mapped, double millis, String problem,
            InetSocketAddress other) {
        Answer(String server, TransportAddress serverAddress, TransportAddress mapped, double millis, String problem) {
            this(server, serverAddress, mapped, millis, problem, null);
        }
    }

    /** The answers, and what RFC 5780 discovery found when a server offered it. */
    private record Result(List<Answer> answers, NatBehaviour.Found behaviour, String behaviourServer) {
    }

    public String netcheck() throws Exception {
        List<String> servers = servers();
        if (servers.isEmpty()) {
            return "no STUN server: the node is not registered with a relay, and ice.stunServers is empty\n";
        }
        Result result = withOwnClassLoader(() -> ask(servers));
        List<Answer> answers = result.answers();
        StringBuilder out = new StringBuilder();
        List<Answer> answered = answers.stream().filter(a -> a.mapped() != null).toList();
        for (Answer a : answers) {
            out.append(String.format("STUN %-28s %s%n", a.server(), a.mapped() == null ? a.problem()
                    : "sees " + a.mapped().getHostString() + ":" + a.mapped().getPort() + String.format(" (%.1f ms)", a.millis())));
        }
        if (answered.isEmpty()) {
            out.append("UDP: blocked (no STUN server answered): the node relies on the relay over TCP (WebSocket)\n");
            return out.append(holePunching()).toString();
        }
        out.append("UDP: gets out\n");
        Set<String> seen = new LinkedHashSet<>();
        answered.forEach(a -> seen.add(a.mapped().getHostString() + ":" + a.mapped().getPort()));
        out.append("public endpoint: ").append(String.join(", ", seen)).append('\n');
        if (result.behaviour() != null) {
            // RFC 5780's tests name both behaviours; they beat comparing answers from several servers.
            out.append("mapping: ").append(result.behaviour().mapping()).append(" (RFC 5780 tests with ").append(result.behaviourServer())
                    .append(")\n");
            out.append("filtering: ").append(result.behaviour().filtering()).append(" (RFC 5780 tests with ")
                    .append(result.behaviourServer()).append(")\n");
        } else {
            out.append("mapping: ").append(mapping(answered)).append('\n');
            out.append("filtering: needs a STUN server that offers RFC 5780 (OTHER-ADDRESS) in ice.stunServers\n");
        }
        return out.append(holePunching()).toString();
    }

    private String holePunching() {
        IceAgent a = agent;
        return a == null ? "hole punching: not running\n" : "hole punching on the overlay's socket: " + a.status();
    }

    /**
     * RFC 4787's mapping behaviour, as far as the answers tell: they compare only within one
     * address family, and servers that share one address cannot tell endpoint-independent from
     * address-dependent mapping.
     */
    static String mapping(List<Answer> answered) {
        boolean v4 = answered.get(0).mapped().getAddress() instanceof java.net.Inet4Address;
        List<Answer> sameFamily = answered.stream().filter(a -> (a.mapped().getAddress() instanceof java.net.Inet4Address) == v4).toList();
        if (sameFamily.size() < 2) {
            return "needs a second STUN server to tell (ice.stunServers)";
        }
        long endpoints = sameFamily.stream().map(a -> a.mapped().getHostString() + ":" + a.mapped().getPort()).distinct().count();
        long serverAddresses = sameFamily.stream().map(a -> a.serverAddress().getAddress()).distinct().count();
        if (endpoints > 1) {
            return "endpoint-dependent (a public endpoint per destination): hole punching needs the peer's NAT to be kind";
        }
        if (serverAddresses > 1) {
            return "endpoint-independent (one public endpoint for every destination)";
        }
        return "endpoint-independent or address-dependent (the STUN servers share one address: one on another address would tell)";
    }

    private List<String> servers() {
        return servers(config, home);
    }

    /**
     * The configured STUN servers, then the home relay's responder (unless {@code useRelayStun} is
     * off): a second server on another address tells the mapping behaviour, and one that offers
     * RFC 5780 tells the filtering.
     */
    static List<String> servers(IceConfig c, HomeRelay relay) {
        List<String> out = new ArrayList<>(List.of(c.stunServers()));
        if (c.useRelayStun() && relay != null) {
            for (RelayEndpoint e : relay.endpoints()) {
                if (e.uri().getHost() != null) {
                    String responder = e.uri().getHost() + ":" + c.stunPort();
                    if (!out.contains(responder)) {
                        out.add(responder);
                    }
                    break;
                }
            }
        }
        return out;
    }

    /**
     * Asks every server from one UDP socket, through one STUN stack, so that the answers compare
     * one mapping (ice4j's SimpleAddressDetector would close the socket after its first answer).
     */
    private Result ask(List<String> servers) throws Exception {
        List<Answer> out = new ArrayList<>();
        StunStack stack = new StunStack();
        try (DatagramSocket udp = new DatagramSocket(new InetSocketAddress(0))) {
            IceUdpSocketWrapper socket = new IceUdpSocketWrapper(udp);
            TransportAddress local = new TransportAddress((InetSocketAddress) udp.getLocalSocketAddress(), Transport.UDP);
            stack.addSocket(socket);
            BlockingRequestSender sender = new BlockingRequestSender(stack, local);
            for (String server : servers) {
                long started = System.nanoTime();
                TransportAddress serverAddress = null;
                TransportAddress mapped = null;
                InetSocketAddress other = null;
                String problem;
                try {
                    serverAddress = parse(server);
                    StunMessageEvent event = sender.sendRequestAndWaitForResponse(MessageFactory.createBindingRequest(), serverAddress);
                    if (event == null) {
                        problem = String.format("no answer (gave up after %.0f ms of retransmissions)", (System.nanoTime() - started) / 1e6);
                    } else if (event.getMessage() instanceof Response r && r.isErrorResponse()) {
                        problem = "refused: " + r.getAttribute(Attribute.ERROR_CODE);
                    } else {
                        mapped = mappedAddress((Response) event.getMessage());
                        problem = mapped == null ? "answered without an address" : null;
                        other = NatBehaviour.otherAddress(event.getRawMessage().getBytes());
                    }
                } catch (IllegalArgumentException e) {
                    problem = "not host:port (" + e.getMessage() + ")";
                } catch (Exception e) {
                    problem = "failed: " + e;
                }
                out.add(new Answer(server, serverAddress, mapped, (System.nanoTime() - started) / 1e6, problem, other));
            }
            NatBehaviour.Found found = null;
            String behaviourServer = null;
            for (Answer a : out) {
                if (a.other() != null && a.mapped() != null) {
                    found = new NatBehaviour(stack, local).discover(a.serverAddress(), a.other(), a.mapped());
                    behaviourServer = a.server();
                    break;
                }
            }
            stack.removeSocket(local);
            return new Result(out, found, behaviourServer);
        } finally {
            stack.shutDown();
        }
    }

    /** {@code host:port}, {@code [v6]:port}, or a host alone (port 3478). */
    static TransportAddress parse(String server) {
        String host = server.trim();
        int port = 3478;
        if (host.startsWith("[")) {
            int close = host.indexOf(']');
            if (close < 0) {
                throw new IllegalArgumentException("no ] in " + server);
            }
            String rest = host.substring(close + 1);
            host = host.substring(1, close);
            if (rest.startsWith(":")) {
                port = Integer.parseInt(rest.substring(1));
            } else if (!rest.isEmpty()) {
                throw new IllegalArgumentException(server);
            }
        } else if (host.indexOf(':') >= 0 && host.indexOf(':') == host.lastIndexOf(':')) {
            port = Integer.parseInt(host.substring(host.indexOf(':') + 1));
            host = host.substring(0, host.indexOf(':'));
        } // else: a bare IPv6 address, or a host without a port
        if (port < 1 || port > 65_535 || host.isEmpty()) {
            throw new IllegalArgumentException(server);
        }
        return new TransportAddress(host, port, Transport.UDP);
    }

    /** XOR-MAPPED-ADDRESS (RFC 8489), or the classic MAPPED-ADDRESS of an older server. */
    private static TransportAddress mappedAddress(Response response) {
        if (response.getAttribute(Attribute.XOR_MAPPED_ADDRESS) instanceof XorMappedAddressAttribute xor) {
            byte[] key = new byte[16];
            System.arraycopy(Message.MAGIC_COOKIE, 0, key, 0, 4);
            System.arraycopy(response.getTransactionID(), 0, key, 4, 12);
            return xor.applyXor(key);
        }
        if (response.getAttribute(Attribute.MAPPED_ADDRESS) instanceof MappedAddressAttribute plain) {
            return plain.getAddress();
        }
        return null;
    }

    /**
     * ice4j reads its defaults through Typesafe config, which loads them with the thread's context
     * class loader: in OSGi that is not the bundle's, where ice4j and its reference.conf live.
     */
    static <T> T withOwnClassLoader(Callable<T> work) throws Exception {
        Thread t = Thread.currentThread();
        ClassLoader before = t.getContextClassLoader();
        t.setContextClassLoader(NetCheck.class.getClassLoader());
        try {
            return work.call();
        } finally {
            t.setContextClassLoader(before);
        }
    }
}
