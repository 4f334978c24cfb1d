package io.cloudbridge.control.relay.internal;

import java.time.Instant;

/** One version of a tenant's policy; {@code text} null: the tenant went back to no policy. */
record PolicyVersion(String tenant, long version, String text, String sha256, String createdBy, Instant createdAt) {
}
