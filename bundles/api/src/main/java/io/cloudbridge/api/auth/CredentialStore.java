package io.cloudbridge.api.auth;

import java.io.IOException;
import java.util.Optional;
import org.osgi.annotation.versioning.ConsumerType;

/**
 * Where secrets are kept: the OS keyring where there is one, a file readable only by the daemon's
 * user where there is not. Entries are addressed by service and account, as keyrings do.
 */
@ConsumerType
public interface CredentialStore {

    /** Which backend this is, e.g. {@code secret-service}, {@code file}. */
    String backend();

    Optional<String> read(String service, String account) throws IOException;

    void write(String service, String account, String secret) throws IOException;

    /** Returns whether there was an entry to delete. */
    boolean delete(String service, String account) throws IOException;
}
