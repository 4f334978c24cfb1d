package io.cloudbridge.api.event;

import java.time.Instant;

/**
 * Something changed state: a feature, a transport session, a peer's path.
 *
 * @param source  the component that reports it, e.g. {@code feature}, {@code transport.quic}
 * @param subject what changed, e.g. a feature name or a peer key
 * @param from    the previous state, empty when new
 * @param to      the new state
 * @param reason  why, in words; empty when obvious
 * @param at      when
 */
public record StateChangeEvent(String source, String subject, String from, String to, String reason, Instant at) {
}
