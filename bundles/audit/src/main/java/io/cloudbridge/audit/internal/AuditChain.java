package io.cloudbridge.audit.internal;

import io.cloudbridge.api.audit.AuditEvent;
import io.cloudbridge.boot.log.RotatingFileSink;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The audit file: one JSON object a line, each carrying the hash of the line before it
 * ({@code prev}) and its own ({@code hash}, SHA-256 of the line up to that field), so that a line
 * changed, removed or moved breaks the chain at that place. Every {@code checkpointEntries}
 * entries, before a rotation and at close, a checkpoint entry signs the chain's head with the
 * daemon's key ({@link CheckpointKey}), and the interval it promises: a rewrite of the whole
 * file, chain and all, then fails the signatures, and one without checkpoints their absence.
 * Rotation renames {@code audit.jsonl} to {@code audit.jsonl.1} (and so on, up to
 * {@code maxFiles}); the old file ends with a checkpoint, the new one begins with a
 * {@code continued} entry, and the chain goes on. Not thread-safe: the trail serialises calls.
 */
final class AuditChain implements AutoCloseable {
    static final String FILE_NAME = "audit.jsonl";
    /** The {@code prev} of the very first entry of a trail. */
    static final String GENESIS = "0".repeat(64);
    static final String HASH_FIELD = ",\"hash\":\"";
    static final String CHECKPOINT_ACTION = "checkpoint";
    /** The first entry of every file after the first: where the verifier may find a trail's oldest file begin. */
    static final String CONTINUED_ACTION = "continued";

    private final Path file;
    private final long maxFileBytes;
    private final int maxFiles;
    private final int checkpointEntries;
    private final CheckpointKey key;
    private final Consumer<String> written;
    private FileChannel out;
    private long fileBytes;
    private long sequence;
    private String head;
    private long sinceCheckpoint;

    /** Opens (or continues) the trail in {@code folder}; {@code written} sees every line once it is in the file. */
    AuditChain(Path folder, long maxFileBytes, int maxFiles, int checkpointEntries, CheckpointKey key,
            Consumer<String> written) throws IOException {
        Files.createDirectories(folder);
        this.file = folder.resolve(FILE_NAME);
        this.maxFileBytes = maxFileBytes;
        this.maxFiles = Math.max(1, maxFiles);
        this.checkpointEntries = Math.max(1, checkpointEntries);
        this.key = key;
        this.written = written;
        resume();
        open();
    }

    Path file() {
        return file;
    }

    long sequence() {
        return sequence;
    }

    /** Appends {@code event}, and a checkpoint after it when one is due. */
    void append(Instant time, AuditEvent event) throws IOException {
        write(time, event);
        sinceCheckpoint++;
        if (sinceCheckpoint >= checkpointEntries) {
            checkpoint(time);
        }
    }

    /** Signs the chain's head as it is now; nothing when no entry came since the last checkpoint. */
    void checkpoint(Instant time) throws IOException {
        if (sinceCheckpoint == 0 && sequence > 0) {
            return;
        }
        long seq = sequence + 1;
        String signature = key.sign(signedText(seq, head, checkpointEntries, key.id()));
        sinceCheckpoint = 0;
        // (In this order: the verifier reads a checkpoint by its shape.)
        Map<String, String> details = new LinkedHashMap<>();
        details.put("key", key.id());
        details.put("every", Long.toString(checkpointEntries));
        details.put("signature", signature);
        write(time, new AuditEvent("audit", CHECKPOINT_ACTION, "daemon", AuditEvent.OK, details));
    }

    /**
     * What a checkpoint at {@code seq} signs: the hash of the entry before it, which commits to
     * every one before that, and the interval it promises (so that it cannot be stretched to let
     * entries after it go unsigned).
     */
    static String signedText(long seq, String prev, long every, String keyId) {
        return "cloudbridge-audit-checkpoint\n" + seq + "\n" + prev + "\n" + every + "\n" + keyId;
    }

    private void write(Instant time, AuditEvent event) throws IOException {
        long seq = sequence + 1;
        StringBuilder body = new StringBuilder(256);
        body.append("{\"seq\":").append(seq).append(",\"time\":\"").append(time).append('"');
        field(body, "category", event.category());
        field(body, "action", event.action());
        field(body, "actor", event.actor());
        field(body, "outcome", event.outcome());
        body.append(",\"details\":{");
        boolean first = true;
        for (Map.Entry<String, String> d : event.details().entrySet()) {
            if (!first) {
                body.append(',');
            }
            first = false;
            string(body, d.getKey());
            body.append(':');
            string(body, d.getValue() == null ? "" : d.getValue());
        }
        body.append('}');
        body.append(",\"prev\":\"").append(head).append('"');
        String hash = sha256(body.toString());
        String line = body + HASH_FIELD + hash + "\"}";
        byte[] bytes = (line + "\n").getBytes(StandardCharsets.UTF_8);
        if (fileBytes > 0 && fileBytes + bytes.length > maxFileBytes && !CHECKPOINT_ACTION.equals(event.action())) {
            // The old file ends signed, then the chain goes on in a new one.
            checkpoint(time);
            rotate();
            write(time, event);
            return;
        }
        // One write of the whole line; one that fails part way is cut off again, so that the next
        // entry does not run on from a fragment (a full disk).
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        try {
            while (buffer.hasRemaining()) {
                out.write(buffer);
            }
        } catch (IOException e) {
            try {
                out.truncate(fileBytes);
            } catch (IOException stillFailing) {
                e.addSuppressed(stillFailing);
            }
            throw e;
        }
        fileBytes += bytes.length;
        sequence = seq;
        head = hash;
        written.accept(line);
    }

    private static void field(StringBuilder sb, String name, String value) {
        sb.append(",\"").append(name).append("\":");
        string(sb, value);
    }

    /** A JSON string: quotes, backslashes and control characters escaped, everything else as it is. */
    static void string(StringBuilder sb, String value) {
        sb.append('"');
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    // (Also the line breaks a regular expression's '.' stops at: a line stays one line.)
                    if (c < 0x20 || c == 0x7f || c == 0x85 || c == 0x2028 || c == 0x2029) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }

    static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }

    /**
     * Where the chain stands: the last entry of the live file, else of the newest rotated one. A
     * last line that is not a whole entry (a write cut short, or an edit) is left for
     * {@code audit:verify} to report; the chain goes on from the last whole one.
     */
    private void resume() throws IOException {
        sequence = 0;
        head = GENESIS;
        for (Path candidate : new Path[] {file, RotatingFileSink.numbered(file, 1)}) {
            AuditLine last = lastEntry(candidate);
            if (last != null) {
                sequence = last.seq();
                head = last.hash();
                sinceCheckpoint = CHECKPOINT_ACTION.equals(last.action()) && "audit".equals(last.category()) ? 0 : 1;
                return;
            }
        }
    }

    private static AuditLine lastEntry(Path path) throws IOException {
        if (!Files.isRegularFile(path)) {
            return null;
        }
        try (RandomAccessFile raf = new RandomAccessFile(path.toFile(), "r")) {
            long end = raf.length();
            // The last lines are within the last 64 KiB unless one entry is larger: read back until one parses.
            long from = Math.max(0, end - 65_536);
            while (true) {
                byte[] tail = new byte[(int) (end - from)];
                raf.seek(from);
                raf.readFully(tail);
                String[] lines = new String(tail, StandardCharsets.UTF_8).split("\n");
                for (int i = lines.length - 1; i >= (from == 0 ? 0 : 1); i--) {
                    AuditLine parsed = AuditLine.parse(lines[i]);
                    if (parsed != null) {
                        return parsed;
                    }
                }
                if (from == 0) {
                    return null;
                }
                from = Math.max(0, from - 65_536);
            }
        }
    }

    private void open() throws IOException {
        out = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE);
        fileBytes = out.size();
        if (fileBytes > 0 && !endsWithNewline(file)) {
            // A line cut short stays as it is (the verifier names it); the next entry starts on a line of its own.
            out.write(ByteBuffer.wrap(new byte[] {'\n'}));
            fileBytes++;
        }
    }

    private static boolean endsWithNewline(Path path) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(path.toFile(), "r")) {
            raf.seek(raf.length() - 1);
            return raf.read() == '\n';
        }
    }

    /** The live file aside and a new one begun; whatever fails, the trail is open again after it. */
    private void rotate() throws IOException {
        out.close();
        boolean shifted = false;
        try {
            RotatingFileSink.shift(file, maxFiles);
            shifted = true;
        } finally {
            open();
        }
        if (shifted) {
            write(Instant.now(), new AuditEvent("audit", CONTINUED_ACTION, "daemon", AuditEvent.OK,
                    Map.of("previous", FILE_NAME + ".1")));
            sinceCheckpoint++;
        }
    }

    @Override
    public void close() throws IOException {
        out.close();
    }
}
