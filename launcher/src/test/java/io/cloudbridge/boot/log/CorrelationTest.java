package io.cloudbridge.boot.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Flow ids: their shape, what is accepted from another daemon, and how a scope and a hand-over keep them. */
class CorrelationTest {

    @Test
    void newIdsHaveTheirKindAndDiffer() {
        String a = Correlation.newId("reg");
        assertTrue(a.matches("reg-[0-9a-z]{10}"), a);
        assertTrue(Correlation.valid(a));
        assertNotEquals(a, Correlation.newId("reg"));
    }

    @Test
    void onlyAnIdIsAcceptedFromTheOtherSide() {
        assertEquals("ice-6162636465666768", Correlation.accept("ice-6162636465666768", "rpc"));
        // Text of the sender's choosing does not reach the log: a new line, quotes, a very long value, nothing.
        // Nor an id of a kind only this daemon makes: a caller cannot pass itself off as its configuration or one of its calls.
        for (String bad : new String[] {null, "", "a\nb", "x\",\"level\":\"ERROR", "a".repeat(65), "sp ace", "ünïcode",
            "config-1", "rpc-0123456789", "quic-x"}) {
            String taken = Correlation.accept(bad, "rpc");
            assertTrue(taken.matches("rpc-[0-9a-z]{10}"), bad + " -> " + taken);
        }
    }

    @Test
    void aScopeGivesBackTheIdBeforeIt() {
        assertNull(Correlation.current());
        try (Correlation.Scope outer = Correlation.open("admin-1.1")) {
            try (Correlation.Scope inner = Correlation.open("reg-abc")) {
                assertEquals("reg-abc", Correlation.current());
            }
            assertEquals("admin-1.1", Correlation.current());
            try (Correlation.Scope none = Correlation.open(null)) {
                assertNull(Correlation.current());
            }
            assertEquals("admin-1.1", Correlation.current());
        }
        assertNull(Correlation.current());
    }

    @Test
    void workHandedToAnotherThreadKeepsItsId() throws Exception {
        ExecutorService other = Executors.newSingleThreadExecutor();
        try {
            AtomicReference<String> seen = new AtomicReference<>("unset");
            try (Correlation.Scope flow = Correlation.open("relay-xyz")) {
                Correlation.carrying(other).execute(() -> seen.set(Correlation.current()));
            }
            other.submit(() -> { }).get(5, TimeUnit.SECONDS);
            assertEquals("relay-xyz", seen.get());
            // and the pool's thread, started during the flow, has none of it afterwards (not inherited)
            assertNull(other.submit(Correlation::current).get(5, TimeUnit.SECONDS));
            assertFalse(Correlation.valid(Correlation.current()));
        } finally {
            other.shutdownNow();
        }
    }

    @Test
    void aThreadWithoutAnIdTakesTheAmbientOneAndOnlyThen() throws Exception {
        ThreadLocal<String> gogoJob = new ThreadLocal<>(); // as Gogo's: set on its own threads only
        try (AutoCloseable ambient = Correlation.ambient(gogoJob::get)) {
            assertNull(Correlation.current(), "no job here");
            ExecutorService pipe = Executors.newSingleThreadExecutor();
            try {
                String seen = pipe.submit(() -> {
                    gogoJob.set("admin-abcdefghij.2");
                    String inJob = Correlation.current();
                    java.util.Map<String, String> copy = org.slf4j.MDC.getCopyOfContextMap();
                    // A thread the command starts (a bundle's pool) has no job, and so no id.
                    AtomicReference<String> child = new AtomicReference<>("unset");
                    Thread started = new Thread(() -> child.set(Correlation.current()));
                    started.start();
                    started.join(5_000);
                    gogoJob.remove();
                    return inJob + "|" + copy.get(Correlation.KEY) + "|" + child.get();
                }).get(5, TimeUnit.SECONDS);
                assertEquals("admin-abcdefghij.2|admin-abcdefghij.2|null", seen);
            } finally {
                pipe.shutdownNow();
            }
            // An id of the thread's own comes first.
            gogoJob.set("admin-abcdefghij.3");
            try (Correlation.Scope own = Correlation.open("reg-0123456789")) {
                assertEquals("reg-0123456789", Correlation.current());
            }
            assertEquals("admin-abcdefghij.3", Correlation.current());
            gogoJob.remove();
        }
        assertNull(Correlation.current());
    }

    @Test
    void theIdIsAFieldOfEachLogLine() {
        try (Correlation.Scope flow = Correlation.open("reg-0123456789")) {
            String line = JsonLogWriter.format(java.time.Instant.EPOCH, LogLevel.INFO, "test", "registered",
                    org.slf4j.MDC.getCopyOfContextMap(), null);
            assertTrue(line.contains("\"correlationId\":\"reg-0123456789\""), line);
        }
    }
}
