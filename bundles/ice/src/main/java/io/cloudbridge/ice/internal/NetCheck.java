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

    @Activate
    @Modified
    void configure(IceConfig c) {
        this.config = c;
    }

    /** One server's answer: the endpoint it saw, and the round trip; null when none came. */
    record Answer(String server, TransportAddress mapped, double millis) {
    }

    public String netcheck() throws Exception {
        List<String> servers = servers();
        if (servers.isEmpty()) {
            return "no STUN server: the node is not registered with a relay, and ice.stunServers is empty\n";
        }
        List<Answer> answers = withOwnClassLoader(() -> ask(servers));
        StringBuilder out = new StringBuilder();
        List<Answer> answered = answers.stream().filter(a -> a.mapped() != null).toList();
        for (Answer a : answers) {
            out.append(String.format("STUN %-28s %s%n", a.server(), a.mapped() == null
                    ? String.format("no answer (gave up after %.0f ms of retransmissions)", a.millis())
                    : "sees " + a.mapped().getHostString() + ":" + a.mapped().getPort() + String.format(" (%.1f ms)", a.millis())));
        }
        if (answered.isEmpty()) {
            out.append("UDP: blocked (no STUN server answered): the node relies on the relay over TCP (WebSocket)\n");
            return out.toString();
        }
        out.append("UDP: gets out\n");
        Set<String> seen = new LinkedHashSet<>();
        answered.forEach(a -> seen.add(a.mapped().getHostString() + ":" + a.mapped().getPort()));
        out.append("public endpoint: ").append(String.join(", ", seen)).append('\n');
        if (answered.size() < 2) {
            out.append("mapping: needs a second STUN server to tell (ice.stunServers)\n");
        } else if (seen.size() == 1) {
            out.append("mapping: endpoint-independent (one public endpoint for every destination)\n");
        } else {
            out.append("mapping: endpoint-dependent (a public endpoint per destination): hole punching needs the peer's NAT to be kind\n");
        }
        return out.toString();
    }

    private List<String> servers() {
        IceConfig c = config;
        List<String> out = new ArrayList<>(List.of(c.stunServers()));
        HomeRelay relay = home;
        if (out.isEmpty() && relay != null) {
            for (RelayEndpoint e : relay.endpoints()) {
                if (e.uri().getHost() != null) {
                    out.add(e.uri().getHost() + ":" + c.stunPort());
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
    private List<Answer> ask(List<String> servers) throws IOException {
        List<Answer> out = new ArrayList<>();
        StunStack stack = new StunStack();
        try (DatagramSocket udp = new DatagramSocket(new InetSocketAddress(0))) {
            IceUdpSocketWrapper socket = new IceUdpSocketWrapper(udp);
            TransportAddress local = new TransportAddress((InetSocketAddress) udp.getLocalSocketAddress(), Transport.UDP);
            stack.addSocket(socket);
            BlockingRequestSender sender = new BlockingRequestSender(stack, local);
            for (String server : servers) {
                int colon = server.lastIndexOf(':');
                String host = colon < 0 ? server : server.substring(0, colon);
                int port = colon < 0 ? 3478 : Integer.parseInt(server.substring(colon + 1));
                long started = System.nanoTime();
                TransportAddress mapped = null;
                try {
                    StunMessageEvent event = sender.sendRequestAndWaitForResponse(MessageFactory.createBindingRequest(),
                            new TransportAddress(host, port, Transport.UDP));
                    mapped = event == null ? null : mappedAddress((Response) event.getMessage());
                } catch (Exception e) {
                    mapped = null; // no answer, or none that made sense: reported as such
                }
                out.add(new Answer(server, mapped, (System.nanoTime() - started) / 1e6));
            }
            stack.removeSocket(local);
        } finally {
            stack.shutDown();
        }
        return out;
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
