package io.cloudbridge.api.runtime;

/** A feature change that was refused or failed; the message says why. */
public class FeatureOperationException extends Exception {
    private static final long serialVersionUID = 1L;

    public FeatureOperationException(String message) {
        super(message);
    }

    public FeatureOperationException(String message, Throwable cause) {
        super(message, cause);
    }
}
