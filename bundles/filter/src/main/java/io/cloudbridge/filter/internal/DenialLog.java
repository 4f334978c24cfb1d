package io.cloudbridge.filter.internal;

import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The log line of each refused flow: the filter calls it once per flow (the table remembers the
 * refusal), and it holds a peer that opens thousands of flows a second (a scan, a flood) to
 * {@value #LINES_PER_SECOND} lines a second, saying how many it left out, so that the log stays
 * readable and the data path does not wait on it.
 */
final class DenialLog {
    static final int LINES_PER_SECOND = 20;

    /** Where the lines go: the bundle's logger, or a test's list. */
    interface Sink {
        void line(String text);
    }

    private final Sink sink;
    private final LongSupplier nanoTime;
    private long windowStart;
    private int linesInWindow;
    private long leftOut;
    private long deniedFlows;

    DenialLog(Sink sink, LongSupplier nanoTime) {
        this.sink = sink;
        this.nanoTime = nanoTime;
        this.windowStart = nanoTime.getAsLong();
    }

    /** The peer's new {@code flow} was refused; {@code decidedBy} is a rule's label or the reason. */
    void refused(FlowKey flow, String decidedBy) {
        long before;
        synchronized (this) {
            deniedFlows++;
            long now = nanoTime.getAsLong();
            if (now - windowStart >= TimeUnit.SECONDS.toNanos(1)) {
                windowStart = now;
                linesInWindow = 0;
            }
            if (linesInWindow == LINES_PER_SECOND) {
                leftOut++;
                return;
            }
            linesInWindow++;
            before = leftOut;
            leftOut = 0;
        }
        // Formatted only for the lines written, outside the lock.
        sink.line("dropped a new flow, " + flow.describe(true) + ": " + decidedBy
                + (before == 0 ? "" : " (" + before + " more refused flows were not logged)"));
    }

    /** Flows refused so far, logged or not. */
    synchronized long deniedFlows() {
        return deniedFlows;
    }
}
