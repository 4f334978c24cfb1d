package io.cloudbridge.api.auth;

/** A credential did not verify; the message is the reason, safe to log (it never holds the credential). */
public class CredentialRejectedException extends Exception {
    private static final long serialVersionUID = 1L;

    public CredentialRejectedException(String reason) {
        super(reason);
    }
}
