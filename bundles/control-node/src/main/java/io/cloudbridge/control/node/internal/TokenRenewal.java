package io.cloudbridge.control.node.internal;

import io.cloudbridge.control.v1.NodeToken;
import io.cloudbridge.control.v1.RefreshTokenRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;

/**
 * Keeps the node token alive: each new token is kept (the refresh token stored), and renewed with
 * its refresh token when two thirds of its life are gone, which leaves a third for retries. A
 * renewal the relay refuses outright signs the node in again; one that merely failed is retried
 * with a backoff of its own, no sooner than the relay asks.
 */
final class TokenRenewal {
    private static final Logger LOG = ControlSession.LOG;

    private final ControlSession session;
    private final RefreshTokenStore refreshTokens;
    /** What a refused renewal falls back to: a whole new sign-in. */
    private final Runnable signInAgain;

    private volatile Instant tokenExpires;
    private volatile int renewals;
    private volatile ScheduledFuture<?> renewal;
    /** Renewals failed in a row: their retries back off. */
    private volatile int renewalFailures;

    TokenRenewal(ControlSession session, RefreshTokenStore refreshTokens, Runnable signInAgain) {
        this.session = session;
        this.refreshTokens = refreshTokens;
        this.signInAgain = signInAgain;
    }

    /** Keeps the new token; the refresh token goes to an owner-only file (the OS keyring comes with the credentials bundle). */
    void saveToken(NodeToken token) throws IOException {
        session.jwt = token.getJwt();
        Instant expires = Instant.ofEpochSecond(token.getExpiresAtEpochSeconds());
        tokenExpires = expires;
        refreshTokens.write(token.getRefreshToken());
        long renewIn = renewDelayMillis(Instant.now(), expires);
        ScheduledFuture<?> previous = renewal;
        if (previous != null) {
            previous.cancel(false); // one renewal chain, whatever signed in last
        }
        renewal = session.scheduler.schedule(this::renew, renewIn, TimeUnit.MILLISECONDS);
    }

    void renew() {
        // Registered is enough: a map stream or heartbeat in a break (the status then says so) must not
        // stop the renewal chain, or the token expires under a node that never signs in again.
        if (session.registration == null) {
            return;
        }
        try {
            String refresh = refreshTokens.read();
            if (refresh == null) {
                // The keyring entry or the file went away: nothing to renew with, so a whole new sign-in.
                session.registration = null;
                session.status = "signed out: the refresh token is gone";
                LOG.warn("this node's refresh token is gone from {}; signing in again", refreshTokens.where());
                session.scheduler.execute(signInAgain);
                return;
            }
            NodeToken token = session.blocking().refreshToken(RefreshTokenRequest.newBuilder().setRefreshToken(refresh).build()).getToken();
            session.authMeters.renewal(AuthMeters.Reason.NONE);
            renewals++;
            renewalFailures = 0;
            saveToken(token);
        } catch (StatusRuntimeException e) {
            session.authMeters.renewal(AuthMeters.Reason.of(e.getStatus().getCode()));
            if (e.getStatus().getCode() == Status.Code.UNAUTHENTICATED) {
                session.registration = null;
                session.status = "signed out: " + e.getStatus().getDescription();
                LOG.warn("the relay refused to renew this node's token ({}); signing in again", e.getStatus().getDescription());
                session.scheduler.execute(signInAgain);
            } else {
                // The token has a third of its life left: retried soon, but backing off (and no sooner
                // than the relay asks, when it refused for a budget) rather than every 2 s.
                long wait = retryWaitMillis(Backoff.pushbackMillis(e), renewalFailures++);
                session.scheduler.schedule(this::renew, Backoff.jitter(wait, ThreadLocalRandom.current()), TimeUnit.MILLISECONDS);
            }
        } catch (IOException e) {
            session.status = "cannot keep the refresh token: " + e.getMessage();
            LOG.error(session.status);
        } catch (RuntimeException e) {
            // Anything else would end the chain silently on the scheduler: said, and tried again.
            LOG.error("renewing this node's token failed: {}; trying again", e.toString());
            long wait = retryWaitMillis(0, renewalFailures++);
            session.scheduler.schedule(this::renew, Backoff.jitter(wait, ThreadLocalRandom.current()), TimeUnit.MILLISECONDS);
        }
    }

    /** When a token that expires at {@code expires} is renewed: two thirds into its life, and never in the past. */
    static long renewDelayMillis(Instant now, Instant expires) {
        Duration life = Duration.between(now, expires);
        return Math.max(1, life.toMillis() * 2 / 3);
    }

    /** The wait before a failed renewal is tried again (before jitter): 2 s doubling to 32 s, or the relay's longer hint. */
    static long retryWaitMillis(long pushbackMillis, int failedBefore) {
        return Math.max(pushbackMillis, 2000L << Math.min(failedBefore, 4));
    }

    Instant tokenExpires() {
        return tokenExpires;
    }

    int renewals() {
        return renewals;
    }
}
