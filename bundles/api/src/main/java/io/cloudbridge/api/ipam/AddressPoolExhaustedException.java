package io.cloudbridge.api.ipam;

/** The tenant's address pool has no free address left. */
public class AddressPoolExhaustedException extends Exception {
    private static final long serialVersionUID = 1L;

    public AddressPoolExhaustedException(String message) {
        super(message);
    }
}
