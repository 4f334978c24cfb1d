package io.cloudbridge.itest;

import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * What a test needs of the machine. Missing, the test skips with one line saying what and how to
 * get it; in CI ({@code CI=true}, root, after {@code .ci/run}'s set-up) nothing may be missing, so
 * there it fails instead.
 */
final class TestRequirements {
    private TestRequirements() {
    }

    static boolean isRoot() {
        return new com.sun.security.auth.module.UnixSystem().getUid() == 0;
    }

    /** Skips (fails in CI) unless the test runs as root; {@code why} says what root is for. */
    static void root(String why) {
        require(isRoot(), "needs root for " + why + " (run the tests as root, as CI does)");
    }

    static void require(boolean present, String missing) {
        if (!present && "true".equals(System.getenv("CI"))) {
            Assertions.fail("CI must have everything the tests need: " + missing);
        }
        Assumptions.assumeTrue(present, missing);
    }
}
