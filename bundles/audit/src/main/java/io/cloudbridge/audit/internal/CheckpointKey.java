package io.cloudbridge.audit.internal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;

/**
 * The key that signs the audit trail's checkpoints (Ed25519): the private half owner-only in
 * {@code checkpoint.key} beside the trail, the public half in {@code checkpoint.pub}, which
 * {@code audit:verify} checks against. Someone who can rewrite the audit file but not read the
 * private key (a backup, a log shipper, a user given the file) cannot make checkpoints that
 * verify; an operator who keeps a copy of the public key elsewhere (or the checkpoints, through
 * syslog) also catches a rewrite by the daemon's own user.
 */
final class CheckpointKey {
    static final String PRIVATE_FILE = "checkpoint.key";
    static final String PUBLIC_FILE = "checkpoint.pub";
    private static final String ALGORITHM = "Ed25519";

    private final PrivateKey privateKey;
    private final PublicKey publicKey;
    private final String id;

    private CheckpointKey(PrivateKey privateKey, PublicKey publicKey) {
        this.privateKey = privateKey;
        this.publicKey = publicKey;
        this.id = idOf(publicKey);
    }

    /** The folder's key, made there (through {@code writeSecret}, owner-only) the first time. */
    static CheckpointKey loadOrCreate(Path folder, SecretWriter writeSecret) throws IOException {
        Path privateFile = folder.resolve(PRIVATE_FILE);
        Path publicFile = folder.resolve(PUBLIC_FILE);
        try {
            KeyFactory factory = KeyFactory.getInstance(ALGORITHM);
            if (Files.exists(privateFile)) {
                PrivateKey privateKey = factory.generatePrivate(new PKCS8EncodedKeySpec(decode(privateFile)));
                PublicKey publicKey = readPublic(publicFile);
                CheckpointKey key = new CheckpointKey(privateKey, publicKey);
                // A public half swapped for another key's would make the daemon's own checkpoints fail.
                if (!verify(publicKey, "probe", key.sign("probe"))) {
                    throw new IOException(publicFile + " is not the public half of " + privateFile);
                }
                return key;
            }
            KeyPair pair = KeyPairGenerator.getInstance(ALGORITHM).generateKeyPair();
            writeSecret.write(privateFile, Base64.getEncoder().encodeToString(pair.getPrivate().getEncoded()) + "\n");
            Files.writeString(publicFile, Base64.getEncoder().encodeToString(pair.getPublic().getEncoded()) + "\n");
            return new CheckpointKey(pair.getPrivate(), pair.getPublic());
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            throw new IOException("the audit checkpoint key in " + folder + " cannot be read: " + e.getMessage(), e);
        }
    }

    /** A public key as {@code checkpoint.pub} holds it (Base64 of its X.509 encoding). */
    static PublicKey readPublic(Path file) throws IOException {
        try {
            return KeyFactory.getInstance(ALGORITHM).generatePublic(new X509EncodedKeySpec(decode(file)));
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            throw new IOException(file + " is not an Ed25519 public key: " + e.getMessage(), e);
        }
    }

    private static byte[] decode(Path file) throws IOException {
        return Base64.getDecoder().decode(Files.readString(file, StandardCharsets.US_ASCII).strip());
    }

    /** The first 16 hex digits of the SHA-256 of the public key's encoding: what checkpoints name. */
    static String idOf(PublicKey key) {
        return AuditChain.sha256(Base64.getEncoder().encodeToString(key.getEncoded())).substring(0, 16);
    }

    String id() {
        return id;
    }

    PublicKey publicKey() {
        return publicKey;
    }

    String sign(String text) {
        try {
            Signature signer = Signature.getInstance(ALGORITHM);
            signer.initSign(privateKey);
            signer.update(text.getBytes(StandardCharsets.UTF_8));
            return Base64.getEncoder().encodeToString(signer.sign());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("Ed25519 signing failed", e);
        }
    }

    static boolean verify(PublicKey key, String text, String signature) {
        try {
            Signature verifier = Signature.getInstance(ALGORITHM);
            verifier.initVerify(key);
            verifier.update(text.getBytes(StandardCharsets.UTF_8));
            return verifier.verify(Base64.getDecoder().decode(signature));
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            return false;
        }
    }

    /** Writes a file owner-only (the runtime's {@code writeSecret}). */
    @FunctionalInterface
    interface SecretWriter {
        void write(Path file, String text) throws IOException;
    }
}
