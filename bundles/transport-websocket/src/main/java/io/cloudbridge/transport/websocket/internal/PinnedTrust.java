package io.cloudbridge.transport.websocket.internal;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.HexFormat;
import javax.net.ssl.X509TrustManager;

/**
 * Trusts exactly the relay certificate whose SHA-256 fingerprint the node pinned (as the control
 * plane does): relays use self-signed certificates, so no authority vouches for them.
 */
final class PinnedTrust implements X509TrustManager {
    private final String fingerprint;

    /** @param fingerprint as the relay prints it ({@code sha256:<hex>}), or the bare hex, colons allowed */
    PinnedTrust(String fingerprint) {
        String f = fingerprint.trim().toLowerCase(java.util.Locale.ROOT);
        if (f.startsWith("sha256:")) {
            f = f.substring("sha256:".length());
        }
        this.fingerprint = f.replace(":", "");
        if (!this.fingerprint.matches("[0-9a-f]{64}")) {
            throw new IllegalArgumentException("not a SHA-256 certificate fingerprint: " + fingerprint);
        }
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        if (chain == null || chain.length == 0) {
            throw new CertificateException("the relay sent no certificate");
        }
        String seen;
        try {
            seen = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(chain[0].getEncoded()));
        } catch (NoSuchAlgorithmException e) {
            throw new CertificateException(e);
        }
        if (!MessageDigest.isEqual(seen.getBytes(), fingerprint.getBytes())) {
            throw new CertificateException("the relay's certificate is not the pinned one (fingerprint " + seen + ")");
        }
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        throw new CertificateException("not a server");
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
    }
}
