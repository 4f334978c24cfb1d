package io.cloudbridge.control.relay.internal;

import java.io.IOException;
import java.nio.file.Path;

/** Writes a file that holds a secret: the runtime's owner-only writer ({@code RuntimeEnvironment::writeSecret}). */
@FunctionalInterface
interface SecretWriter {
    void write(Path file, String text) throws IOException;
}
