package io.cloudbridge.control.relay.internal;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.HexFormat;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;

/**
 * The relay's TLS identity: a configured certificate and key, or a self-signed EC P-256 one made on
 * first start and kept (owner-only) for every start after. Nodes trust it by its SHA-256
 * fingerprint, not by a certificate authority.
 */
public record RelayCertificate(X509Certificate certificate, PrivateKey privateKey) implements io.cloudbridge.api.relay.RelayIdentity {

    /** {@code sha256:} and the hex SHA-256 of the certificate's DER encoding: what nodes pin. */
    @Override
    public String fingerprint() {
        return fingerprint(certificate);
    }

    public static String fingerprint(X509Certificate certificate) {
        try {
            return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded()));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SHA-256 and DER encoding are always available", e);
        }
    }

    /** Reads the configured pair. */
    public static RelayCertificate load(Path certificateFile, Path keyFile) throws IOException {
        try {
            X509Certificate cert = (X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(Files.newInputStream(certificateFile));
            try (PEMParser parser = new PEMParser(new StringReader(Files.readString(keyFile)))) {
                Object o = parser.readObject();
                JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
                if (o instanceof PrivateKeyInfo info) {
                    return new RelayCertificate(cert, converter.getPrivateKey(info));
                }
                if (o instanceof org.bouncycastle.openssl.PEMKeyPair pair) { // "BEGIN EC PRIVATE KEY", as openssl writes it
                    return new RelayCertificate(cert, converter.getKeyPair(pair).getPrivate());
                }
                throw new IOException(keyFile + " holds no unencrypted private key (BEGIN PRIVATE KEY)");
            }
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot read the relay certificate " + certificateFile + ": " + e.getMessage(), e);
        }
    }

    /** The pair kept in {@code folder}, made there first if there is none. */
    public static RelayCertificate loadOrCreate(Path folder, String hostName, io.cloudbridge.api.runtime.RuntimeEnvironment secrets) throws IOException {
        Path cert = folder.resolve("relay.crt");
        Path key = folder.resolve("relay.key");
        if (Files.exists(cert) && Files.exists(key)) {
            return load(cert, key);
        }
        RelayCertificate made = selfSigned(hostName);
        secrets.writeSecret(key, pem(made.privateKey));
        secrets.writeSecret(cert, pem(made.certificate));
        return made;
    }

    static RelayCertificate selfSigned(String hostName) throws IOException {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            KeyPair pair = g.generateKeyPair();
            Instant now = Instant.now();
            X500Name name = new X500Name("CN=" + hostName.replaceAll("[^A-Za-z0-9.-]", "-") + ", O=CloudBridge relay");
            JcaX509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(name,
                    new BigInteger(128, new SecureRandom()), Date.from(now.minus(Duration.ofMinutes(5))),
                    Date.from(now.plus(Duration.ofDays(3650))), name, pair.getPublic());
            builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            builder.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
                new GeneralName(GeneralName.dNSName, "localhost"), new GeneralName(GeneralName.iPAddress, "127.0.0.1")}));
            X509Certificate cert = new JcaX509CertificateConverter().getCertificate(
                    builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(pair.getPrivate())));
            return new RelayCertificate(cert, pair.getPrivate());
        } catch (GeneralSecurityException | OperatorCreationException e) {
            throw new IOException("cannot make the relay's certificate: " + e.getMessage(), e);
        }
    }

    private static String pem(Object o) throws IOException {
        if (o instanceof PrivateKey k) {
            // PKCS#8, the form every TLS stack reads.
            return "-----BEGIN PRIVATE KEY-----\n"
                    + java.util.Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(k.getEncoded())
                    + "\n-----END PRIVATE KEY-----\n";
        }
        StringWriter out = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(out)) {
            w.writeObject(o);
        }
        return out.toString();
    }
}
