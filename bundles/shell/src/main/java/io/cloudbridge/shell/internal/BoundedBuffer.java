package io.cloudbridge.shell.internal;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A command's output, kept up to the most one response can carry; the rest is counted and
 * dropped, so a runaway command cannot fill the daemon's heap.
 */
final class BoundedBuffer extends ByteArrayOutputStream {
    private final int limit;
    private long dropped;

    BoundedBuffer(int limit) {
        this.limit = limit;
    }

    @Override
    public synchronized void write(int b) {
        if (count < limit) {
            super.write(b);
        } else {
            dropped++;
        }
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) {
        int room = Math.max(0, limit - count);
        int kept = Math.min(room, len);
        super.write(b, off, kept);
        dropped += len - kept;
    }

    synchronized String text() {
        String text = toString(StandardCharsets.UTF_8);
        return dropped == 0 ? text : text + "\n[" + dropped + " bytes of output dropped]";
    }
}
