package io.cloudbridge.audit.internal;

import io.cloudbridge.boot.log.RotatingFileSink;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks an audit trail end to end: every line an entry whose hash matches its text, numbered one
 * after the other, naming the hash of the one before it; every checkpoint signed by the key; and
 * no more entries after the last checkpoint than its interval allows (plus one: the entry that is
 * being followed by one). The first fault found is reported with its file and line: a changed line
 * fails its hash, a removed one breaks the numbering and the chain, a reordered one the numbering;
 * a whole file rewritten, chain and all, fails the checkpoints' signatures, or has none.
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

    private AuditVerifier() {
    }

    /** The trail's files, oldest first: {@code audit.jsonl.N} ... {@code audit.jsonl.1}, {@code audit.jsonl}. */
    static List<Path> files(Path folder) throws IOException {
        List<Path> files = new ArrayList<>();
        for (int n = 1;; n++) {
            Path rotated = RotatingFileSink.numbered(folder.resolve(AuditChain.FILE_NAME), n);
            if (!Files.exists(rotated)) {
                break;
            }
            files.add(0, rotated);
        }
        Path live = folder.resolve(AuditChain.FILE_NAME);
        if (Files.exists(live)) {
            files.add(live);
        }
        if (files.isEmpty()) {
            throw new IOException("no audit trail in " + folder + " (" + AuditChain.FILE_NAME + ")");
        }
        return files;
    }

    static Report verify(Path folder, PublicKey key) throws IOException {
        List<Path> files = files(folder);
        String keyId = CheckpointKey.idOf(key);
        List<String> notes = new ArrayList<>();
        long entries = 0;
        long firstSeq = -1;
        long lastSeq = 0;
        String head = null;
        long checkpoints = 0;
        long sinceCheckpoint = 0;
        int every = -1;
        for (Path file : files) {
            try (BufferedReader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                String text;
                int lineNo = 0;
                while ((text = reader.readLine()) != null) {
                    lineNo++;
                    String where = file.getFileName() + " line " + lineNo;
                    AuditLine line = AuditLine.parse(text);
                    if (line == null) {
                        return fail(where + ": not an audit entry (" + (text.isEmpty() ? "empty line" : text.length()
                                + " characters; a write cut short, or an edit)"), entries, firstSeq, lastSeq, files, checkpoints, notes);
                    }
                    if (!line.hashValid()) {
                        return fail(where + " (entry " + line.seq() + "): changed: its hash does not match its text",
                                entries, firstSeq, lastSeq, files, checkpoints, notes);
                    }
                    if (head == null) {
                        firstSeq = line.seq();
                        if (line.seq() == 1) {
                            if (!line.prev().equals(AuditChain.GENESIS)) {
                                return fail(where + ": the first entry names an entry before it", entries, firstSeq,
                                        lastSeq, files, checkpoints, notes);
                            }
                        } else {
                            notes.add("the trail begins at entry " + line.seq() + " (older files rotated away)");
                        }
                    } else {
                        if (line.seq() != lastSeq + 1) {
                            return fail(where + ": entry " + line.seq() + " follows entry " + lastSeq + " ("
                                    + (line.seq() > lastSeq + 1 ? "entries removed" : "entries reordered or repeated") + ")",
                                    entries, firstSeq, lastSeq, files, checkpoints, notes);
                        }
                        if (!line.prev().equals(head)) {
                            return fail(where + " (entry " + line.seq() + "): the chain breaks: it does not name the entry"
                                    + " before it (one removed or replaced)", entries, firstSeq, lastSeq, files, checkpoints, notes);
                        }
                    }
                    if (line.isCheckpoint()) {
                        AuditLine.Checkpoint checkpoint = line.checkpoint();
                        if (checkpoint == null) {
                            return fail(where + ": a checkpoint without a key, interval and signature", entries, firstSeq,
                                    lastSeq, files, checkpoints, notes);
                        }
                        if (!checkpoint.keyId().equals(keyId)) {
                            return fail(where + ": a checkpoint by key " + checkpoint.keyId() + ", not " + keyId, entries,
                                    firstSeq, lastSeq, files, checkpoints, notes);
                        }
                        if (!CheckpointKey.verify(key, AuditChain.signedText(line.seq(), line.prev()), checkpoint.signature())) {
                            return fail(where + ": a checkpoint whose signature does not verify (the trail was rewritten)",
                                    entries, firstSeq, lastSeq, files, checkpoints, notes);
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
                }
            }
        }
        if (checkpoints == 0) {
            return fail("no checkpoint signed by key " + keyId + " in " + entries + " entries", entries, firstSeq, lastSeq,
                    files, checkpoints, notes);
        }
        if (sinceCheckpoint > every + 1) {
            return fail(sinceCheckpoint + " entries after the last checkpoint, which promised one every " + every
                    + " (checkpoints removed from the end)", entries, firstSeq, lastSeq, files, checkpoints, notes);
        }
        return new Report(true, entries, firstSeq, lastSeq, files.size(), checkpoints, sinceCheckpoint, null, notes);
    }

    private static Report fail(String fault, long entries, long firstSeq, long lastSeq, List<Path> files, long checkpoints,
            List<String> notes) {
        return new Report(false, entries, firstSeq, lastSeq, files.size(), checkpoints, 0, fault, notes);
    }
}
