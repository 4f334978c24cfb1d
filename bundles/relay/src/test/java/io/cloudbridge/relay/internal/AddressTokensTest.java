package io.cloudbridge.relay.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class AddressTokensTest {
    private static final InetSocketAddress V6 = new InetSocketAddress(ip("2001:db8:1:2:3:4:5:6"), 40_123);
    private static final byte[] DCID = {1, 2, 3, 4, 5, 6, 7, 8};

    private static InetAddress ip(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }

    private static byte[] mint(AddressTokens tokens, byte[] dcid, InetSocketAddress client) {
        ByteBuf out = Unpooled.buffer();
        tokens.writeToken(out, Unpooled.wrappedBuffer(dcid), client);
        byte[] token = new byte[out.readableBytes()];
        out.readBytes(token);
        return token;
    }

    @Test
    void aTokenValidatesForTheAddressItWasMintedForOnly() {
        AddressTokens tokens = new AddressTokens();
        byte[] token = mint(tokens, DCID, V6);
        assertEquals(8 + 32, tokens.validateToken(Unpooled.wrappedBuffer(token), V6), "the original connection id starts after time and tag");
        assertEquals(-1, tokens.validateToken(Unpooled.wrappedBuffer(token), new InetSocketAddress(V6.getAddress(), V6.getPort() + 1)));
        assertEquals(-1, tokens.validateToken(Unpooled.wrappedBuffer(token), new InetSocketAddress(ip("2001:db8:1:2:3:4:5:7"), V6.getPort())));
        byte[] otherId = token.clone();
        otherId[otherId.length - 1] ^= 1;
        assertEquals(-1, tokens.validateToken(Unpooled.wrappedBuffer(otherId), V6));
    }

    /**
     * The attack on MAC input that is not length-delimited: time, address, port and connection id
     * hashed back to back make the same bytes for the IPv6 client [2001:db8:1:2:3:4:5:6]:40123 with
     * an 8-byte connection id as for the IPv4 client 32.1.13.184:1 (the IPv6 address's first six
     * bytes) with a 20-byte id (the rest of the address, the port and the original id). A client
     * given a Retry token for its IPv6 address rewrites the token's id and has it accepted from an
     * IPv4 address it does not own: the relay then treats that address as validated and sends it
     * up to its full congestion window, unasked.
     */
    @Test
    void aTokenMintedForAnIpv6ClientDoesNotValidateForTheIpv4AddressItsBytesAlias() throws Exception {
        AddressTokens tokens = new AddressTokens();
        byte[] token = mint(tokens, DCID, V6);
        byte[] v6 = V6.getAddress().getAddress();
        InetSocketAddress alias = new InetSocketAddress(InetAddress.getByAddress(Arrays.copyOfRange(v6, 0, 4)),
                ((v6[4] & 0xff) << 8) | (v6[5] & 0xff));
        byte[] aliasId = new byte[10 + 2 + DCID.length];
        System.arraycopy(v6, 6, aliasId, 0, 10);
        aliasId[10] = (byte) (V6.getPort() >>> 8);
        aliasId[11] = (byte) V6.getPort();
        System.arraycopy(DCID, 0, aliasId, 12, DCID.length);
        byte[] forged = new byte[8 + 32 + aliasId.length];
        System.arraycopy(token, 0, forged, 0, 8 + 32); // the minted time and tag, unchanged
        System.arraycopy(aliasId, 0, forged, 8 + 32, aliasId.length);

        assertEquals(-1, tokens.validateToken(Unpooled.wrappedBuffer(forged), alias),
                "a token for " + V6 + " must not validate for " + alias);
    }
}
