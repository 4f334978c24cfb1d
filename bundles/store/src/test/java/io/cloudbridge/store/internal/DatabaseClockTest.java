package io.cloudbridge.store.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.testing.PostgresServer;
import java.time.Duration;
import java.time.Instant;
import java.util.TimeZone;
import org.junit.jupiter.api.Test;

/** The relay's clock from the database server: the offset's arithmetic, and the real server read in a far time zone. */
class DatabaseClockTest {
    @Test
    void theOffsetIsTheServersTimeLessOursAtTheRoundTripsMiddle() {
        Instant sent = Instant.parse("2026-12-07T10:00:00Z");
        // The server read its clock 1 ms into a 2 ms round trip and said an hour later than ours.
        assertEquals(Duration.ofHours(1).toNanos(),
                DatabaseClock.offsetNanos(sent, 2_000_000, sent.plus(Duration.ofHours(1)).plusMillis(1)));
        assertEquals(-Duration.ofMinutes(5).toNanos(), DatabaseClock.offsetNanos(sent, 0, sent.minus(Duration.ofMinutes(5))));
    }

    @Test
    void aRealServersTimeIsReadAsAnInstantWhateverTheRelaysTimeZone() throws Exception {
        PostgresServer.Database database = PostgresServer.shared().newDatabase();
        TimeZone before = TimeZone.getDefault();
        // UTC+14: a relay that read the server's time as a wall time of its own zone would be 14 hours off.
        TimeZone.setDefault(TimeZone.getTimeZone("Pacific/Kiritimati"));
        try (DatabasePool pool = DatabasePool.open(database.url(), database.user(), database.password(), 2);
                DatabaseClock clock = DatabaseClock.start(pool.dataSource(), Duration.ofMinutes(1))) {
            // Server and relay share this machine's clock: the offset is what a round trip on loopback can hide.
            assertTrue(clock.offset().abs().compareTo(Duration.ofMillis(50)) < 0, "offset " + clock.offset());
            assertTrue(Duration.between(Instant.now(), clock.instant()).abs().compareTo(Duration.ofMillis(50)) < 0);
        } finally {
            TimeZone.setDefault(before);
        }
    }
}
