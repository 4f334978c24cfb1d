package io.cloudbridge.boot.feature;

/** A feature that cannot be read, found or changed, with the reason in the message. */
public final class FeatureException extends Exception {
    private static final long serialVersionUID = 1L;

    public FeatureException(String message) {
        super(message);
    }

    public FeatureException(String message, Throwable cause) {
        super(message, cause);
    }
}
