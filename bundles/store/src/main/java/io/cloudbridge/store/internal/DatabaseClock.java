package io.cloudbridge.store.internal;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The time of the database server, as the relay's clock: this machine's clock plus the offset to
 * the server's, measured at start and again every minute. Relays that share a database then agree
 * on when a token, a pre-auth key or a node expires, whatever their own clocks say (a relay whose
 * clock ran five minutes fast would otherwise refuse tokens another relay just signed). Read
 * without a round trip: the offset is kept, and a database out of reach leaves the last one.
 */
final class DatabaseClock extends Clock implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DatabaseClock.class);
    /** Beyond this, a relay's own clock is worth an operator's look (NTP stopped, say). */
    static final Duration WORTH_SAYING = Duration.ofSeconds(1);
    private static final int SAMPLES = 3;

    private final DataSource database;
    private final ScheduledExecutorService measurements;
    private volatile long offsetNanos;
    private volatile boolean said;

    private DatabaseClock(DataSource database) {
        this.database = database;
        this.measurements = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "database-clock");
            t.setDaemon(true);
            return t;
        });
    }

    /** Measures the offset now (throws where the server cannot be asked), then again every {@code every}. */
    static DatabaseClock start(DataSource database, Duration every) throws SQLException {
        DatabaseClock clock = new DatabaseClock(database);
        clock.measure();
        clock.measurements.scheduleWithFixedDelay(() -> {
            try {
                clock.measure();
            } catch (SQLException | RuntimeException e) {
                LOG.debug("the database's time could not be read; the last offset stays: {}", e.toString());
            }
        }, every.toNanos(), every.toNanos(), TimeUnit.NANOSECONDS);
        return clock;
    }

    /** Takes the sample with the shortest round trip of a few: its middle is closest to when the server read its clock. */
    void measure() throws SQLException {
        long best = Long.MAX_VALUE;
        long offset = 0;
        try (Connection c = database.getConnection(); Statement s = c.createStatement()) {
            for (int i = 0; i < SAMPLES; i++) {
                Instant sent = Instant.now();
                long t0 = System.nanoTime();
                Instant server;
                try (ResultSet r = s.executeQuery("SELECT CURRENT_TIMESTAMP")) {
                    r.next();
                    server = r.getObject(1, OffsetDateTime.class).toInstant();
                }
                long roundTrip = System.nanoTime() - t0;
                if (roundTrip < best) {
                    best = roundTrip;
                    offset = offsetNanos(sent, roundTrip, server);
                }
            }
        }
        offsetNanos = offset;
        Duration off = Duration.ofNanos(Math.abs(offset));
        if (off.compareTo(WORTH_SAYING) > 0 && !said) {
            said = true;
            LOG.warn("this machine's clock is {} ms {} the database server's; the relay keeps the server's time", off.toMillis(),
                    offset > 0 ? "behind" : "ahead of");
        } else if (off.compareTo(WORTH_SAYING) <= 0) {
            said = false;
        }
    }

    /** The server's time less this machine's at the middle of the round trip in which the server read it. */
    static long offsetNanos(Instant sent, long roundTripNanos, Instant server) {
        Instant middle = sent.plusNanos(roundTripNanos / 2);
        return Duration.between(middle, server).toNanos();
    }

    Duration offset() {
        return Duration.ofNanos(offsetNanos);
    }

    @Override
    public Instant instant() {
        return Instant.now().plusNanos(offsetNanos);
    }

    @Override
    public ZoneId getZone() {
        return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
        throw new UnsupportedOperationException("the relay's clock is UTC");
    }

    @Override
    public void close() {
        measurements.shutdownNow();
    }
}
