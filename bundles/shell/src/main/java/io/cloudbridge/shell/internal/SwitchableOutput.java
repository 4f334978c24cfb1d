package io.cloudbridge.shell.internal;

import java.io.OutputStream;

/**
 * The output stream a Gogo session is created with. Gogo binds a session's streams once; this one
 * points at the current command's buffer while it runs, and discards anything written between
 * commands (a background job's late output has no request to answer).
 */
final class SwitchableOutput extends OutputStream {
    private volatile OutputStream target;

    void target(OutputStream newTarget) {
        this.target = newTarget;
    }

    @Override
    public void write(int b) throws java.io.IOException {
        OutputStream t = target;
        if (t != null) {
            t.write(b);
        }
    }

    @Override
    public void write(byte[] b, int off, int len) throws java.io.IOException {
        OutputStream t = target;
        if (t != null) {
            t.write(b, off, len);
        }
    }
}
