package io.cloudbridge.control.relay.internal;

/**
 * Why a sign-in was refused, in a fixed set: the reasons the authentication meters show
 * ({@link ControlMeters}). The refusal's words (which may quote the caller) go to the security log
 * and the caller; only these labels become label values, so no caller adds a series.
 */
enum AuthRefusal {
    REGISTRATION_BAD_NODE_INFO(SignIn.REGISTRATION, "bad_node_info"),
    REGISTRATION_NO_CREDENTIAL(SignIn.REGISTRATION, "no_credential"),
    REGISTRATION_TOO_MANY_FAILED_KEYS(SignIn.REGISTRATION, "too_many_failed_keys"),
    REGISTRATION_PRE_AUTH_KEY_UNKNOWN(SignIn.REGISTRATION, "pre_auth_key_unknown"),
    REGISTRATION_PRE_AUTH_KEY_EXPIRED(SignIn.REGISTRATION, "pre_auth_key_expired"),
    REGISTRATION_PRE_AUTH_KEY_USED(SignIn.REGISTRATION, "pre_auth_key_used"),
    REGISTRATION_PRE_AUTH_KEY_REVOKED(SignIn.REGISTRATION, "pre_auth_key_revoked"),
    REGISTRATION_OIDC_NOT_CONFIGURED(SignIn.REGISTRATION, "oidc_not_configured"),
    REGISTRATION_BAD_ACCESS_TOKEN(SignIn.REGISTRATION, "bad_access_token"),
    REGISTRATION_NODE_TOKEN_MALFORMED(SignIn.REGISTRATION, "node_token_malformed"),
    REGISTRATION_NODE_TOKEN_BAD_SIGNATURE(SignIn.REGISTRATION, "node_token_bad_signature"),
    REGISTRATION_NODE_TOKEN_WRONG_ISSUER(SignIn.REGISTRATION, "node_token_wrong_issuer"),
    REGISTRATION_NODE_TOKEN_EXPIRED(SignIn.REGISTRATION, "node_token_expired"),
    REGISTRATION_NODE_TOKEN_NOT_YET_VALID(SignIn.REGISTRATION, "node_token_not_yet_valid"),
    REGISTRATION_NODE_REMOVED(SignIn.REGISTRATION, "node_removed"),
    /** The node token names a key the node no longer has (from before a rotation). */
    REGISTRATION_KEY_CHANGED(SignIn.REGISTRATION, "key_changed"),
    REGISTRATION_KEY_TAKEN(SignIn.REGISTRATION, "key_taken"),
    REGISTRATION_KEY_RESERVED(SignIn.REGISTRATION, "key_reserved"),
    REGISTRATION_NO_ROTATION_PROOF(SignIn.REGISTRATION, "no_rotation_proof"),
    REGISTRATION_BAD_ROTATION_PROOF(SignIn.REGISTRATION, "bad_rotation_proof"),
    REGISTRATION_ADDRESSES_EXHAUSTED(SignIn.REGISTRATION, "addresses_exhausted"),
    REGISTRATION_OVER_BUDGET(SignIn.REGISTRATION, "over_budget"),
    REGISTRATION_QUEUE_FULL(SignIn.REGISTRATION, "queue_full"),
    /** Unknown, used up or expired: the relay keeps no trace of which, by design. */
    RENEWAL_BAD_REFRESH_TOKEN(SignIn.RENEWAL, "bad_refresh_token"),
    RENEWAL_OVER_BUDGET(SignIn.RENEWAL, "over_budget"),
    KEY_ROTATION_NO_PROOF(SignIn.KEY_ROTATION, "no_proof"),
    /** Stale, made with a low-order key, or not holding. */
    KEY_ROTATION_BAD_PROOF(SignIn.KEY_ROTATION, "bad_proof"),
    SESSION_MALFORMED(SignIn.SESSION, "malformed"),
    SESSION_BAD_SIGNATURE(SignIn.SESSION, "bad_signature"),
    SESSION_WRONG_ISSUER(SignIn.SESSION, "wrong_issuer"),
    SESSION_EXPIRED(SignIn.SESSION, "expired"),
    SESSION_NOT_YET_VALID(SignIn.SESSION, "not_yet_valid"),
    SESSION_NODE_REMOVED(SignIn.SESSION, "node_removed");

    /** What was signing in: a node registering, renewing its token, rotating its key, or opening a relay session. */
    enum SignIn { REGISTRATION, RENEWAL, KEY_ROTATION, SESSION }

    final SignIn signIn;
    final String label;

    AuthRefusal(SignIn signIn, String label) {
        this.signIn = signIn;
        this.label = label;
    }

    /** A registration with the node's own token, refused for the token. */
    static AuthRefusal registration(NodeTokens.Refused.Kind token) {
        return switch (token) {
            case MALFORMED -> REGISTRATION_NODE_TOKEN_MALFORMED;
            case BAD_SIGNATURE -> REGISTRATION_NODE_TOKEN_BAD_SIGNATURE;
            case WRONG_ISSUER -> REGISTRATION_NODE_TOKEN_WRONG_ISSUER;
            case EXPIRED -> REGISTRATION_NODE_TOKEN_EXPIRED;
            case NOT_YET_VALID -> REGISTRATION_NODE_TOKEN_NOT_YET_VALID;
            case NODE_REMOVED -> REGISTRATION_NODE_REMOVED;
        };
    }

    /** A relay session, refused for its token. */
    static AuthRefusal session(NodeTokens.Refused.Kind token) {
        return switch (token) {
            case MALFORMED -> SESSION_MALFORMED;
            case BAD_SIGNATURE -> SESSION_BAD_SIGNATURE;
            case WRONG_ISSUER -> SESSION_WRONG_ISSUER;
            case EXPIRED -> SESSION_EXPIRED;
            case NOT_YET_VALID -> SESSION_NOT_YET_VALID;
            case NODE_REMOVED -> SESSION_NODE_REMOVED;
        };
    }

    /** A registration with a pre-auth key the relay did not accept. */
    static AuthRefusal registration(RelayState.KeyCheck check) {
        return switch (check) {
            case UNKNOWN -> REGISTRATION_PRE_AUTH_KEY_UNKNOWN;
            case EXPIRED -> REGISTRATION_PRE_AUTH_KEY_EXPIRED;
            case USED -> REGISTRATION_PRE_AUTH_KEY_USED;
            case REVOKED -> REGISTRATION_PRE_AUTH_KEY_REVOKED;
            case ACCEPTED -> throw new IllegalArgumentException("an accepted key is no refusal");
        };
    }
}
