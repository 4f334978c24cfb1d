package io.cloudbridge.audit.internal;

import io.cloudbridge.boot.log.RotatingFileSink;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Checks an audit trail end to end: every line an entry whose hash matches its text, numbered one
 * after the other, naming the hash of the one before it; every checkpoint signed by the key, with
 * the interval it promises signed too; no more entries between two checkpoints, or after the last,
 * than that interval (plus one: the entry a checkpoint follows); the trail beginning at its first
 * entry or at the first entry of a file (older files rotated away); and no file missing between
 * the live one and the oldest. The first fault found is reported with its file and line: a
 * changed line fails its hash, a removed one breaks the numbering and the chain, a reordered one
 * the numbering; a whole file rewritten, chain and all, fails the checkpoints' signatures, or has
 * none where they are due.
 */
final class AuditVerifier {

    /** What the verifier found. */
    record Report(boolean ok, long entries, long firstSeq, long lastSeq, int files, long checkpoints, long unsignedTail,
            String fault, List<String> notes) {

        String text() {
            StringBuilder sb = new StringBuilder();
            if (ok) {
                sb.append("audit trail verified: ").append(entries).append(" entries (").append(firstSeq).append('-')
                        .append(lastSeq).append(") in ").append(files).append(files == 1 ? " file, " : " files, ")
                        .append(checkpoints).append(" signed checkpoints, ").append(unsignedTail)
                        .append(" entries after the last one\n");
            } else {
                sb.append("audit trail FAILED verification: ").append(fault).append('\n');
            }
            notes.forEach(n -> sb.append("note: ").append(n).append('\n'));
            return sb.toString();
        }
    }

    private static final Pattern ROTATED = Pattern.compile(Pattern.quote(AuditChain.FILE_NAME) + "\\.(\\d{1,6})");

    private AuditVerifier() {
    }

    /**
     * The trail's files, oldest first: {@code audit.jsonl.N} ... {@code audit.jsonl.1},
     * {@code audit.jsonl}; refused when one is missing between others (a file removed).
     */
    static List<Path> files(Path folder) throws IOException {
        TreeSet<Integer> numbers = new TreeSet<>();
        try (Stream<Path> listed = Files.list(folder)) {
            listed.forEach(p -> {
                Matcher m = ROTATED.matcher(p.getFileName().toString());
                if (m.matches()) {
                    numbers.add(Integer.parseInt(m.group(1)));
                }
            });
        }
        List<Path> files = new ArrayList<>();
        Path live = folder.resolve(AuditChain.FILE_NAME);
        for (int n = 1; n <= (numbers.isEmpty() ? 0 : numbers.last()); n++) {
            if (!numbers.contains(n)) {
                throw new IOException(AuditChain.FILE_NAME + "." + n + " is missing while " + AuditChain.FILE_NAME + "."
                        + numbers.last() + " is there: a file of the trail was removed");
            }
            files.add(0, RotatingFileSink.numbered(live, n));
        }
        if (Files.exists(live)) {
            files.add(live);
        }
        if (files.isEmpty()) {
            throw new IOException("no audit trail in " + folder + " (" + AuditChain.FILE_NAME + ")");
        }
        return files;
    }

    static Report verify(Path folder, PublicKey key) throws IOException {
        return verify(files(folder), key, -1);
    }

    /**
     * Verifies {@code files} (oldest first); of the last, only its first {@code liveBytes} bytes
     * when that is not negative (what was written when a snapshot was taken).
     */
    static Report verify(List<Path> files, PublicKey key, long liveBytes) throws IOException {
        String keyId = CheckpointKey.idOf(key);
        Progress p = new Progress();
        for (int f = 0; f < files.size(); f++) {
            Path file = files.get(f);
            boolean last = f == files.size() - 1;
            try (BufferedReader reader = last && liveBytes >= 0
                    ? new BufferedReader(new InputStreamReader(new java.io.ByteArrayInputStream(head(file, liveBytes)), StandardCharsets.UTF_8))
                    : Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                String text;
                int lineNo = 0;
                while ((text = reader.readLine()) != null) {
                    lineNo++;
                    String fault = p.take(text, file.getFileName() + " line " + lineNo, lineNo == 1, key, keyId);
                    if (fault != null) {
                        return fail(fault, p, files);
                    }
                }
            }
        }
        if (p.checkpoints == 0) {
            return fail("no checkpoint signed by key " + keyId + " in " + p.entries + " entries", p, files);
        }
        if (p.sinceCheckpoint > p.every + 1) {
            return fail(p.sinceCheckpoint + " entries after the last checkpoint, which promised one every " + p.every
                    + " (checkpoints removed from the end)", p, files);
        }
        return new Report(true, p.entries, p.firstSeq, p.lastSeq, files.size(), p.checkpoints, p.sinceCheckpoint, null, p.notes);
    }

    /** The chain as read so far. */
    private static final class Progress {
        final List<String> notes = new ArrayList<>();
        long entries;
        long firstSeq = -1;
        long lastSeq;
        String head;
        long checkpoints;
        long sinceCheckpoint;
        /** The interval the last checkpoint promised; -1 before the first. */
        long every = -1;

        /** Takes one line; the fault it shows, or null. */
        String take(String text, String where, boolean firstOfFile, PublicKey key, String keyId) {
            AuditLine line = AuditLine.parse(text);
            if (line == null) {
                return where + ": not an audit entry (" + (text.isEmpty() ? "an empty line" : text.length()
                        + " characters; a write cut short, or an edit)");
            }
            if (!line.hashValid()) {
                return where + " (entry " + line.seq() + "): changed: its hash does not match its text";
            }
            if (head == null) {
                firstSeq = line.seq();
                if (line.seq() == 1) {
                    if (!line.prev().equals(AuditChain.GENESIS)) {
                        return where + ": the first entry names an entry before it";
                    }
                } else if (firstOfFile && line.isContinued()) {
                    notes.add("the trail begins at entry " + line.seq() + " (older files rotated away)");
                } else {
                    return where + ": the trail begins at entry " + line.seq() + ", which does not begin a file"
                            + " (entries removed from its beginning)";
                }
            } else {
                if (line.seq() != lastSeq + 1) {
                    return where + ": entry " + line.seq() + " follows entry " + lastSeq + " ("
                            + (line.seq() > lastSeq + 1 ? "entries removed" : "entries reordered or repeated") + ")";
                }
                if (!line.prev().equals(head)) {
                    return where + " (entry " + line.seq() + "): the chain breaks: it does not name the entry"
                            + " before it (one removed or replaced)";
                }
            }
            if (line.isCheckpoint()) {
                AuditLine.Checkpoint checkpoint = line.checkpoint();
                if (checkpoint == null) {
                    return where + ": a checkpoint without a key, interval and signature";
                }
                if (!checkpoint.keyId().equals(keyId)) {
                    return where + ": a checkpoint by key " + checkpoint.keyId() + ", not " + keyId;
                }
                if (!CheckpointKey.verify(key, AuditChain.signedText(line.seq(), line.prev(), checkpoint.every(), keyId),
                        checkpoint.signature())) {
                    return where + ": a checkpoint whose signature does not verify (the trail was rewritten)";
                }
                // The stretch before it, against what the checkpoint before it promised (the first
                // stretch against this one's promise).
                long promised = every >= 0 ? every : checkpoint.every();
                if (sinceCheckpoint > promised + 1) {
                    return where + ": " + sinceCheckpoint + " entries since the checkpoint before, which promised one every "
                            + promised + " (checkpoints removed)";
                }
                checkpoints++;
                sinceCheckpoint = 0;
                every = checkpoint.every();
            } else {
                sinceCheckpoint++;
            }
            head = line.hash();
            lastSeq = line.seq();
            entries++;
            return null;
        }
    }

    private static byte[] head(Path file, long bytes) throws IOException {
        try (java.io.InputStream in = Files.newInputStream(file)) {
            return in.readNBytes((int) Math.min(bytes, Integer.MAX_VALUE));
        }
    }

    private static Report fail(String fault, Progress p, List<Path> files) {
        return new Report(false, p.entries, p.firstSeq, p.lastSeq, files.size(), p.checkpoints, 0, fault, p.notes);
    }
}
