package io.cloudbridge.policy.internal;

import java.util.List;

/** One entry of the policy's {@code tests}: what {@code source} may and may not reach. */
record PolicyTest(String source, List<Expectation> expectations, int line) {

    /** {@code destination} on {@code protocol} (and {@code port}, 0 for none) is {@code accepted}, or refused. */
    record Expectation(boolean accepted, String destination, String protocol, int port, String written, int line) {
    }
}
