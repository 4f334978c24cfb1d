package io.cloudbridge.store;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.sql.SQLException;
import java.util.Arrays;
import java.util.Base64;
import java.util.Set;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * {@link SecretSealer} with AES-256-GCM under the fleet key: a stored value is
 * {@code sealed:v1:} and the Base64 of a random 96-bit nonce, the ciphertext and its tag, with the
 * value's context as associated data (a sealed value moved to another row does not open). The key
 * file holds 32 random bytes in Base64 ({@code head -c 32 /dev/urandom | base64}), readable by its
 * owner alone, the same file on every relay of the fleet. Made by the relay's database component
 * from {@code database.fleetKeyFile}; public for the tests of the components that use it.
 */
public final class FleetKeySealer implements SecretSealer {
    static final String PREFIX = "sealed:v1:";
    private static final int NONCE_BYTES = 12;
    private static final int TAG_BITS = 128;

    /** Without a fleet key: values are stored as given, and a sealed one cannot be opened. */
    public static final SecretSealer NONE = new SecretSealer() {
        @Override
        public String seal(String secret, String context) {
            return secret;
        }

        @Override
        public String open(String stored, String context) throws SQLException {
            if (isSealed(stored)) {
                throw new SQLException("the database holds secrets sealed with a fleet key, and this relay has none"
                        + " (database.fleetKeyFile): give it the fleet's key file");
            }
            return stored;
        }

        @Override
        public boolean isSealed(String stored) {
            return sealed(stored);
        }

        @Override
        public boolean sealing() {
            return false;
        }
    };

    private static boolean sealed(String stored) {
        return stored.startsWith(PREFIX);
    }

    private final SecretKeySpec key;
    private final SecureRandom random = new SecureRandom();

    private FleetKeySealer(byte[] key) {
        this.key = new SecretKeySpec(key, "AES");
    }

    /** The fleet key in {@code file}; refused where the file is missing, readable by others, or not 32 bytes in Base64. */
    public static FleetKeySealer load(Path file) throws IOException {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.US_ASCII);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new IOException("database.fleetKeyFile " + file + " does not exist (a new fleet: head -c 32 /dev/urandom | base64 > "
                    + file + "; chmod 600 " + file + "; a relay joining one: a copy of the fleet's file)");
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new IOException("database.fleetKeyFile " + file + " is not Base64 text (make it with: head -c 32 /dev/urandom | base64)");
        }
        try {
            Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(file);
            if (permissions.contains(PosixFilePermission.GROUP_READ) || permissions.contains(PosixFilePermission.OTHERS_READ)
                    || permissions.contains(PosixFilePermission.GROUP_WRITE) || permissions.contains(PosixFilePermission.OTHERS_WRITE)) {
                throw new IOException("database.fleetKeyFile " + file + " is readable or writable by group or others; restrict it with"
                        + " 'chmod 600 " + file + "'");
            }
        } catch (UnsupportedOperationException notPosix) {
            // Windows: the file's ACL is the operator's to set
        }
        byte[] key;
        try {
            key = Base64.getDecoder().decode(text.trim());
        } catch (IllegalArgumentException e) {
            throw new IOException("database.fleetKeyFile " + file + " is not Base64: " + e.getMessage());
        }
        if (key.length != 32) {
            throw new IOException("database.fleetKeyFile " + file + " holds " + key.length + " bytes, not 32 (head -c 32 /dev/urandom | base64)");
        }
        try {
            return new FleetKeySealer(key);
        } finally {
            Arrays.fill(key, (byte) 0);
        }
    }

    @Override
    public String seal(String secret, String context) {
        byte[] nonce = new byte[NONCE_BYTES];
        random.nextBytes(nonce);
        try {
            Cipher aes = Cipher.getInstance("AES/GCM/NoPadding");
            aes.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, nonce));
            aes.updateAAD(context.getBytes(StandardCharsets.UTF_8));
            byte[] sealed = aes.doFinal(secret.getBytes(StandardCharsets.UTF_8));
            byte[] out = new byte[NONCE_BYTES + sealed.length];
            System.arraycopy(nonce, 0, out, 0, NONCE_BYTES);
            System.arraycopy(sealed, 0, out, NONCE_BYTES, sealed.length);
            return PREFIX + Base64.getEncoder().encodeToString(out);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("AES-GCM is part of every Java runtime", e);
        }
    }

    @Override
    public String open(String stored, String context) throws SQLException {
        if (!sealed(stored)) {
            return stored; // stored before the fleet key was configured: sealed when it is next written
        }
        byte[] in;
        try {
            in = Base64.getDecoder().decode(stored.substring(PREFIX.length()));
        } catch (IllegalArgumentException e) {
            throw new SQLException("a sealed secret (" + context + ") is not Base64: the database was changed");
        }
        if (in.length < NONCE_BYTES + TAG_BITS / 8) {
            throw new SQLException("a sealed secret (" + context + ") is too short: the database was changed");
        }
        try {
            Cipher aes = Cipher.getInstance("AES/GCM/NoPadding");
            aes.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, in, 0, NONCE_BYTES));
            aes.updateAAD(context.getBytes(StandardCharsets.UTF_8));
            return new String(aes.doFinal(in, NONCE_BYTES, in.length - NONCE_BYTES), StandardCharsets.UTF_8);
        } catch (javax.crypto.AEADBadTagException e) {
            throw new SQLException("a sealed secret (" + context + ") does not open with this relay's fleet key: another fleet's key,"
                    + " or a value changed or moved in the database");
        } catch (GeneralSecurityException e) {
            throw new SQLException("cannot open a sealed secret (" + context + "): " + e.getMessage(), e);
        }
    }

    @Override
    public boolean isSealed(String stored) {
        return sealed(stored);
    }

    @Override
    public boolean sealing() {
        return true;
    }
}
