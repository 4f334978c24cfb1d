package io.cloudbridge.api.relay;

import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import org.osgi.annotation.versioning.ProviderType;

/**
 * The relay's TLS identity, one for all its listeners, so that a node pins one fingerprint for the
 * control plane and every transport.
 */
@ProviderType
public interface RelayIdentity {

    X509Certificate certificate();

    PrivateKey privateKey();

    /** {@code sha256:} and the lower-case hex SHA-256 of the certificate's DER form: what nodes pin. */
    String fingerprint();
}
