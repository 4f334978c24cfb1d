package io.cloudbridge.control.node.internal;

import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.HexFormat;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Trusts the relay by its certificate's SHA-256 fingerprint, not by a certificate authority: the
 * configured fingerprint, or else the one seen on first contact, which is kept and required from
 * then on (trust on first use). A relay presenting another certificate is refused, loudly.
 *
 * <p>An extended trust manager on purpose: the JDK would wrap a plain one and check the host name
 * against the certificate, which a pinned self-signed relay certificate need not match.
 */
final class RelayPin extends X509ExtendedTrustManager {
    private static final Logger LOG = LoggerFactory.getLogger(RelayPin.class);

    private final String configured;
    private final Path pinFile;

    /** @param configured the fingerprint from the configuration, or blank for trust on first use */
    /** Writes the pin file owner-only. */
    private final io.cloudbridge.api.runtime.RuntimeEnvironment secrets;

    RelayPin(String configured, Path pinFile, io.cloudbridge.api.runtime.RuntimeEnvironment secrets) {
        this.secrets = secrets;
        this.configured = configured == null ? "" : configured.trim().toLowerCase();
        this.pinFile = pinFile;
    }

    static String fingerprint(X509Certificate certificate) throws CertificateException {
        try {
            return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded()));
        } catch (GeneralSecurityException e) {
            throw new CertificateException("cannot take the certificate's fingerprint", e);
        }
    }

    /** The fingerprint this node requires, if it has one yet. */
    String expected() throws IOException {
        if (!configured.isEmpty()) {
            return configured;
        }
        if (!Files.exists(pinFile)) {
            return "";
        }
        String pinned = Files.readString(pinFile, StandardCharsets.US_ASCII).trim();
        if (!pinned.matches("sha256:[0-9a-f]{64}")) {
            // Never trust on first use again because a pin went missing or bad: that is an attack's shape too.
            throw new IOException(pinFile + " holds no fingerprint; fix or remove it on purpose to trust the relay anew");
        }
        return pinned;
    }

    synchronized void check(X509Certificate[] chain) throws CertificateException {
        if (chain == null || chain.length == 0) {
            throw new CertificateException("the relay presented no certificate");
        }
        String seen = fingerprint(chain[0]);
        String expected;
        try {
            expected = expected();
        } catch (IOException e) {
            throw new CertificateException("cannot read the relay pin " + pinFile + ": " + e.getMessage(), e);
        }
        if (expected.isEmpty()) {
            try {
                pin(seen);
            } catch (IOException e) {
                throw new CertificateException("cannot keep the relay pin in " + pinFile + ": " + e.getMessage(), e);
            }
            LOG.warn("trusting the relay's certificate on first use: {} (pinned in {}; compare it with the relay's"
                    + " 'relay:fingerprint')", seen, pinFile);
            return;
        }
        if (!MessageDigest.isEqual(expected.getBytes(StandardCharsets.US_ASCII), seen.getBytes(StandardCharsets.US_ASCII))) {
            throw new CertificateException("the relay's certificate is " + seen + ", not the pinned " + expected
                    + ": refusing it (if the relay's certificate was replaced on purpose, set control.relayFingerprint)");
        }
    }

    private void pin(String fingerprint) throws IOException {
        secrets.writeSecret(pinFile, fingerprint + "\n");
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        check(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        check(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        check(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        throw new CertificateException("a node does not accept TLS clients");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        throw new CertificateException("a node does not accept TLS clients");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        throw new CertificateException("a node does not accept TLS clients");
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
    }
}
