package io.cloudbridge.api.runtime;

import java.io.IOException;
import java.nio.file.Path;
import org.osgi.annotation.versioning.ProviderType;

/**
 * Where this daemon lives and what it is: its installation folder, its role, the state folder of
 * each component, and the one way to write a file that holds a secret. The kernel reads the
 * launcher's framework properties once and offers them here, so that no bundle resolves paths of
 * its own (they used to: the state folder eight times, with three different fallbacks).
 */
@ProviderType
public interface RuntimeEnvironment {

    /** The installation folder ({@code bin/}, {@code bundles/}, {@code features/}), absolute. */
    Path home();

    /**
     * What the daemon was started as: {@code relay}, {@code up} (a node), {@code daemon}, or
     * {@code embedded} when the framework was started by something other than the launcher.
     */
    String role();

    /** The daemon's own state folder, owner-only: one daemon at a time holds it. */
    Path stateFolder();

    /**
     * The state folder of one component ({@code control}, {@code credentials}, {@code relay}, ...),
     * inside {@link #stateFolder()}; created owner-only when missing.
     *
     * @throws IOException if it cannot be created
     * @throws IllegalArgumentException if {@code component} is not one plain folder name
     */
    Path stateFolder(String component) throws IOException;

    /**
     * A path from the configuration: a relative one is taken from {@link #home()}, as the operator
     * reads it in the file, never from whatever folder the daemon was started in.
     */
    Path configuredPath(String path);

    /**
     * Writes {@code text} to {@code file}, readable and writable by the daemon's user only from
     * the moment the file exists, and replaces a file already there in one step, so that a crash
     * never leaves half a secret. Creates the folder. Owner-only means mode 0600 where the file
     * system has POSIX modes; elsewhere (Windows) the file gets what {@code java.io.File} can set
     * and otherwise the access of its folder, so the state folder itself must be the daemon's
     * alone there.
     */
    void writeSecret(Path file, String text) throws IOException;
}
