package io.cloudbridge.api.relay;

/**
 * The relay cannot check a credential now (its database failed, its control plane is going): the
 * credential may well be good. A listener answers "come back later" (HTTP 503 with Retry-After, the
 * QUIC transport's BUSY), never a refusal, which would end the node's session for good over a
 * moment's failure. Unchecked, as any failure of the relay's own: a route catches it, or any
 * RuntimeException, where it catches {@link io.cloudbridge.api.auth.CredentialRejectedException}.
 */
public class CredentialCheckUnavailableException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    public CredentialCheckUnavailableException(String reason, Throwable cause) {
        super(reason, cause);
    }
}
