package io.cloudbridge.filter.internal;

import io.cloudbridge.api.policy.NodeFilter;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The filter in force, kept in the state folder ({@link FilterText}'s format) so that a node that
 * restarts while its control plane is unreachable enforces its last policy rather than nothing.
 * A file that cannot be read is logged and left alone: the node then stays fail closed until the
 * control plane sends a filter, which replaces it.
 */
final class FilterStore {
    private static final Logger LOG = LoggerFactory.getLogger(FilterStore.class);

    /**
     * The largest file read back: a policy is at most 1 MiB of YAML, and compiled for one node it
     * is a fraction of that even with its groups spelled out as prefixes; a larger file is not one
     * this bundle wrote.
     */
    static final int MAX_FILE_BYTES = 8 << 20;

    /** How the file is written: replaced in one step, owner-only from its first byte ({@code RuntimeEnvironment.writeSecret}). */
    interface Writer {
        void write(Path file, String text) throws IOException;
    }

    private final Path file;
    private final Writer writer;

    FilterStore(Path file, Writer writer) {
        this.file = file;
        this.writer = writer;
    }

    Path file() {
        return file;
    }

    void save(NodeFilter filter) throws IOException {
        writer.write(file, FilterText.write(filter));
    }

    /** The filter kept by an earlier run; empty when there is none or it cannot be read. */
    /** Whether a filter was ever kept here (even one that no longer reads). */
    boolean exists() {
        return Files.exists(file);
    }

    Optional<NodeFilter> load() {
        if (!Files.exists(file)) {
            return Optional.empty();
        }
        try {
            if (!Files.isRegularFile(file)) {
                throw new IOException("not a regular file");
            }
            byte[] bytes;
            try (InputStream in = Files.newInputStream(file)) {
                bytes = in.readNBytes(MAX_FILE_BYTES + 1);
            }
            if (bytes.length > MAX_FILE_BYTES) {
                throw new IOException("larger than " + MAX_FILE_BYTES + " bytes");
            }
            String text = StandardCharsets.US_ASCII.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
            return Optional.of(FilterText.read(text));
        } catch (CharacterCodingException e) {
            LOG.error("the kept filter {} is not ASCII text; ignored, no filter until the control plane sends one", file);
        } catch (IOException | RuntimeException e) {
            LOG.error("the kept filter {} cannot be read ({}); ignored, no filter until the control plane sends one", file, e.toString());
        } catch (FilterText.Unreadable e) {
            LOG.error("the kept filter {} is damaged ({}); ignored, no filter until the control plane sends one", file, e.getMessage());
        }
        return Optional.empty();
    }
}
