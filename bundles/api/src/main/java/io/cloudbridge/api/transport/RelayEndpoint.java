package io.cloudbridge.api.transport;

import java.net.URI;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Optional;

/**
 * A relay a node can reach.
 *
 * @param name                 the relay's name in the configuration
 * @param uri                  where it listens, e.g. {@code quic://relay.example:443}
 * @param certificateSha256    the pinned SHA-256 fingerprint of the relay's certificate, as the relay
 *                             prints it ({@code sha256:HEX}; bare hex and colons are accepted), if any
 */
public record RelayEndpoint(String name, URI uri, Optional<String> certificateSha256) {

    /**
     * Whether {@code certificate} is the pinned one. Relays use self-signed certificates, so a
     * transport trusts exactly the pinned certificate, whatever authority signed it.
     *
     * @throws IllegalStateException when nothing is pinned
     */
    public boolean pinMatches(X509Certificate certificate) {
        String pin = certificateSha256.orElseThrow(() -> new IllegalStateException("no pinned certificate for " + uri))
                .trim().toLowerCase(Locale.ROOT);
        if (pin.startsWith("sha256:")) {
            pin = pin.substring("sha256:".length());
        }
        pin = pin.replace(":", "");
        try {
            String seen = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded()));
            return MessageDigest.isEqual(seen.getBytes(java.nio.charset.StandardCharsets.US_ASCII),
                    pin.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        } catch (NoSuchAlgorithmException | CertificateEncodingException e) {
            return false;
        }
    }

    /**
     * A trust manager for this relay's TLS: exactly the pinned certificate ({@link #pinMatches}).
     * Every transport checks the relay the same way, so it is defined once, here. It is an
     * extended trust manager (TLS stacks that verify endpoints ask for one) whose answer is the pin
     * alone: the pinned certificate is the relay's identity, whatever name it was reached by.
     */
    public javax.net.ssl.X509ExtendedTrustManager pinnedTrust() {
        RelayEndpoint relay = this;
        return new javax.net.ssl.X509ExtendedTrustManager() {
            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) throws java.security.cert.CertificateException {
                if (chain == null || chain.length == 0 || !relay.pinMatches(chain[0])) {
                    throw new java.security.cert.CertificateException("the relay's certificate is not the pinned one ("
                            + relay.certificateSha256().orElse("") + ")");
                }
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType, java.net.Socket socket)
                    throws java.security.cert.CertificateException {
                checkServerTrusted(chain, authType);
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType, javax.net.ssl.SSLEngine engine)
                    throws java.security.cert.CertificateException {
                checkServerTrusted(chain, authType);
            }

            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) throws java.security.cert.CertificateException {
                throw new java.security.cert.CertificateException("a relay transport trusts no clients");
            }

            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType, java.net.Socket socket)
                    throws java.security.cert.CertificateException {
                checkClientTrusted(chain, authType);
            }

            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType, javax.net.ssl.SSLEngine engine)
                    throws java.security.cert.CertificateException {
                checkClientTrusted(chain, authType);
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        };
    }
}
