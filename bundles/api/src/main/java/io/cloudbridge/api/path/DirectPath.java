package io.cloudbridge.api.path;

import io.cloudbridge.api.mesh.PathKind;
import java.nio.ByteBuffer;
import org.osgi.annotation.versioning.ConsumerType;

/** One direct way to a peer that a {@link DirectPaths} finder confirmed. */
@ConsumerType
public interface DirectPath {

    /** {@link PathKind#DIRECT}, or {@link PathKind#TURN} or {@link PathKind#MASQUE} for a relayed candidate of hole punching. */
    PathKind kind();

    /**
     * Sends one sealed message; never blocks; {@code false} when it was dropped. The buffer is the
     * caller's again when this returns: an implementation that sends later copies what it keeps.
     */
    boolean send(ByteBuffer message);
}
