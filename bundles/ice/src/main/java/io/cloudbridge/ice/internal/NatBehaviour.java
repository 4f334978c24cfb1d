package io.cloudbridge.ice.internal;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.ice4j.ResponseCollector;
import org.ice4j.StunResponseEvent;
import org.ice4j.StunTimeoutEvent;
import org.ice4j.Transport;
import org.ice4j.TransportAddress;
import org.ice4j.attribute.Attribute;
import org.ice4j.attribute.AttributeFactory;
import org.ice4j.attribute.XorMappedAddressAttribute;
import org.ice4j.message.Message;
import org.ice4j.message.MessageFactory;
import org.ice4j.message.Request;
import org.ice4j.message.Response;
import org.ice4j.stack.StunStack;
import org.ice4j.stack.TransactionID;

/**
 * NAT behaviour discovery (RFC 5780 section 4) against a server that offers it (its answers carry
 * OTHER-ADDRESS: a second address and port it answers from): the mapping and the filtering
 * behaviour, named as RFC 4787 names them. Filtering is tested first: the mapping tests send to
 * the server's other address, which would open an address-dependent filter for it.
 */
final class NatBehaviour {
    /** RFC 5780's OTHER-ADDRESS; ice4j does not decode it, so it is read from the raw answer. */
    static final int OTHER_ADDRESS = 0x802C;

    /** What the tests found; each a phrase of RFC 4787, or why it could not tell. */
    record Found(String mapping, String filtering) {
    }

    private final StunStack stack;
    private final TransportAddress local;

    NatBehaviour(StunStack stack, TransportAddress local) {
        this.stack = stack;
        this.local = local;
    }

    /** The answer's OTHER-ADDRESS, when the server offers RFC 5780; {@code null} otherwise. */
    static InetSocketAddress otherAddress(byte[] raw) {
        ByteBuffer b = ByteBuffer.wrap(raw);
        if (raw.length < 20) {
            return null;
        }
        int end = Math.min(raw.length, 20 + (b.getShort(2) & 0xffff));
        int at = 20;
        while (at + 4 <= end) {
            int type = b.getShort(at) & 0xffff;
            int length = b.getShort(at + 2) & 0xffff;
            if (at + 4 + length > end) {
                return null;
            }
            if (type == OTHER_ADDRESS && length >= 8 && raw[at + 5] == 1) { // family 1: IPv4
                byte[] address = new byte[4];
                System.arraycopy(raw, at + 8, address, 0, 4);
                try {
                    return new InetSocketAddress(java.net.InetAddress.getByAddress(address), b.getShort(at + 6) & 0xffff);
                } catch (java.net.UnknownHostException e) {
                    return null;
                }
            }
            at += 4 + ((length + 3) & ~3);
        }
        return null;
    }

    Found discover(InetSocketAddress server, InetSocketAddress other, InetSocketAddress mappedByServer) throws Exception {
        String filtering;
        if (ask(server, true, true) != null) {
            filtering = "endpoint-independent";
        } else if (ask(server, false, true) != null) {
            filtering = "address-dependent";
        } else {
            filtering = "address-and-port-dependent";
        }
        String mapping;
        InetSocketAddress viaOtherIp = ask(new InetSocketAddress(other.getAddress(), server.getPort()), false, false);
        if (viaOtherIp == null) {
            mapping = "cannot tell (no answer from the server's other address)";
        } else if (viaOtherIp.equals(mappedByServer)) {
            mapping = "endpoint-independent";
        } else {
            InetSocketAddress viaOtherBoth = ask(other, false, false);
            if (viaOtherBoth == null) {
                mapping = "cannot tell (no answer from the server's other port)";
            } else {
                mapping = viaOtherBoth.equals(viaOtherIp) ? "address-dependent" : "address-and-port-dependent";
            }
        }
        return new Found(mapping, filtering);
    }

    /** One Binding request, with CHANGE-REQUEST flags when asked; what the server saw, or null after about a second. */
    private InetSocketAddress ask(InetSocketAddress to, boolean changeIp, boolean changePort) throws Exception {
        Request request = MessageFactory.createBindingRequest();
        if (changeIp || changePort) {
            request.putAttribute(AttributeFactory.createChangeRequestAttribute(changeIp, changePort));
        }
        CompletableFuture<Response> answer = new CompletableFuture<>();
        TransactionID tid = TransactionID.createNewTransactionID();
        // 100 ms, then 200, 400: a second in all, not the seconds of RFC 8489's default schedule.
        stack.sendRequest(request, new TransportAddress(to, Transport.UDP), local, new ResponseCollector() {
            @Override
            public void processResponse(StunResponseEvent event) {
                answer.complete(event.getResponse());
            }

            @Override
            public void processTimeout(StunTimeoutEvent event) {
                answer.complete(null);
            }
        }, tid, 100, 400, 3);
        Response r = answer.get(3, TimeUnit.SECONDS);
        if (r == null || r.isErrorResponse() || !(r.getAttribute(Attribute.XOR_MAPPED_ADDRESS) instanceof XorMappedAddressAttribute x)) {
            return null;
        }
        byte[] mask = new byte[16];
        System.arraycopy(Message.MAGIC_COOKIE, 0, mask, 0, 4);
        System.arraycopy(r.getTransactionID(), 0, mask, 4, 12);
        TransportAddress a = x.applyXor(mask);
        return new InetSocketAddress(a.getAddress(), a.getPort());
    }
}
