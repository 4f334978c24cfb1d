package io.cloudbridge.audit.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.api.audit.AuditEvent;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The audit file and its verifier: a trail as written verifies, across restarts and rotations; a
 * line changed, removed or moved, a trail rewritten whole (with the chain recomputed) under another
 * key or without checkpoints, and a line cut short each fail, naming where.
 */
class AuditChainTest {
    @TempDir
    Path folder;

    private static final CheckpointKey.SecretWriter OWNER_ONLY = (file, text) -> {
        Files.writeString(file, text);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    };

    private CheckpointKey key() throws IOException {
        return CheckpointKey.loadOrCreate(folder, OWNER_ONLY);
    }

    private static AuditEvent event(int i) {
        Map<String, String> details = new LinkedHashMap<>();
        details.put("n", Integer.toString(i));
        // Text that looks like the line's own fields, quotes and a new line: escaped, never taken for structure.
        details.put("text", "a \"quoted\" value},\"prev\":\"" + "0".repeat(64) + "\" with\nnew line, \\ backslash, \u2028\u2029\u0085 and ü");
        return new AuditEvent("admin", "command", "root", i % 3 == 0 ? AuditEvent.FAILED : AuditEvent.OK, details);
    }

    private void write(int entries, long maxFileBytes, int maxFiles, int every) throws IOException {
        try (AuditChain chain = new AuditChain(folder, maxFileBytes, maxFiles, every, key(), line -> { })) {
            for (int i = 0; i < entries; i++) {
                chain.append(Instant.now(), event(i));
            }
            chain.checkpoint(Instant.now());
        }
    }

    private AuditVerifier.Report verify() throws IOException {
        return AuditVerifier.verify(folder, CheckpointKey.readPublic(folder.resolve(CheckpointKey.PUBLIC_FILE)));
    }

    private Path live() {
        return folder.resolve(AuditChain.FILE_NAME);
    }

    private List<String> lines() throws IOException {
        return new ArrayList<>(Files.readAllLines(live(), StandardCharsets.UTF_8));
    }

    private void rewrite(List<String> lines) throws IOException {
        Files.write(live(), lines, StandardCharsets.UTF_8);
    }

    /**
     * {@code lines} re-linked as a forger without the key would: the checkpoints whose ordinal
     * (1, 2, ...) {@code keep} refuses dropped, every entry renumbered and its hashes recomputed.
     */
    private static List<String> rechain(List<String> lines, java.util.function.IntPredicate keep) {
        List<String> out = new ArrayList<>();
        String prev = AuditChain.GENESIS;
        long seq = 0;
        int checkpoints = 0;
        for (String line : lines) {
            if (AuditLine.parse(line).isCheckpoint() && !keep.test(++checkpoints)) {
                continue;
            }
            String body = line.substring(0, line.lastIndexOf(AuditChain.HASH_FIELD))
                    .replaceFirst("^\\{\"seq\":\\d+", "{\"seq\":" + (++seq))
                    .replaceFirst("\"prev\":\"[0-9a-f]{64}\"$", "\"prev\":\"" + prev + "\"");
            prev = AuditChain.sha256(body);
            out.add(body + AuditChain.HASH_FIELD + prev + "\"}");
        }
        return out;
    }

    @Test
    void aTrailAsWrittenVerifies() throws IOException {
        write(250, 16 << 20, 10, 100);
        AuditVerifier.Report report = verify();
        assertTrue(report.ok(), report.text());
        // 250 entries, a checkpoint after each 100, and one at the end: 253.
        assertEquals(253, report.entries(), report.text());
        assertEquals(3, report.checkpoints());
        assertEquals(0, report.unsignedTail());
        assertTrue(lines().get(0).contains("\\\"quoted\\\" value},\\\"prev\\\""), "escaped: " + lines().get(0));
        assertTrue(lines().get(0).contains("\\u2028\\u2029\\u0085 and ü"), "line separators escaped: " + lines().get(0));
    }

    @Test
    void theChainGoesOnAcrossRestarts() throws IOException {
        write(10, 16 << 20, 10, 100);
        write(10, 16 << 20, 10, 100);
        AuditVerifier.Report report = verify();
        assertTrue(report.ok(), report.text());
        assertEquals(22, report.lastSeq());
        assertEquals(1, report.firstSeq());
    }

    @Test
    void rotationKeepsTheChainAndSaysWhereTheKeptFilesBegin() throws IOException {
        write(1000, 64 * 1024, 2, 100);
        try (var files = Files.list(folder)) {
            assertEquals(3, files.filter(p -> p.getFileName().toString().startsWith(AuditChain.FILE_NAME)).count(),
                    "the live file and two rotated ones");
        }
        AuditVerifier.Report report = verify();
        assertTrue(report.ok(), report.text());
        assertEquals(3, report.files());
        assertTrue(report.firstSeq() > 1, "the oldest files were deleted");
        assertTrue(report.notes().get(0).contains("begins at entry " + report.firstSeq()), report.text());
        // Each file but the live one ends with a checkpoint; each but the first begins with a continuation.
        for (int n = 1; n <= 2; n++) {
            List<String> rotated = Files.readAllLines(folder.resolve(AuditChain.FILE_NAME + "." + n));
            assertTrue(AuditLine.parse(rotated.get(rotated.size() - 1)).isCheckpoint(), "file ." + n + " ends signed");
            assertTrue(AuditLine.parse(rotated.get(0)).isContinued(), "file ." + n + " continues the one before");
        }
        assertTrue(AuditLine.parse(lines().get(0)).isContinued());
    }

    @Test
    void aRotatedFileRemovedFromTheMiddleIsFound() throws IOException {
        write(1000, 64 * 1024, 3, 100);
        Files.delete(folder.resolve(AuditChain.FILE_NAME + ".2"));
        IOException gap = assertThrows(IOException.class, this::verify);
        assertTrue(gap.getMessage().contains("audit.jsonl.2 is missing while audit.jsonl.3 is there"), gap.getMessage());
    }

    @Test
    void entriesCutFromTheBeginningAreFound() throws IOException {
        write(50, 16 << 20, 10, 100);
        List<String> lines = lines();
        rewrite(lines.subList(5, lines.size()));
        AuditVerifier.Report report = verify();
        assertFalse(report.ok());
        assertTrue(report.fault().contains("line 1: the trail begins at entry 6, which does not begin a file"), report.text());
    }

    @Test
    void aCheckpointsIntervalCannotBeStretched() throws IOException {
        write(250, 16 << 20, 10, 100);
        List<String> lines = lines();
        // The first checkpoint kept (its hash recomputed) but promising one in a billion entries, so
        // that the entries after it could be rewritten with none: the signature covers the interval.
        String cp = lines.get(100);
        assertTrue(AuditLine.parse(cp).isCheckpoint());
        String body = cp.substring(0, cp.lastIndexOf(AuditChain.HASH_FIELD)).replace("\"every\":\"100\"", "\"every\":\"999999999\"");
        lines.set(100, body + AuditChain.HASH_FIELD + AuditChain.sha256(body) + "\"}");
        String prev = AuditChain.sha256(body);
        for (int i = 101; i < lines.size(); i++) {
            String b = lines.get(i).substring(0, lines.get(i).lastIndexOf(AuditChain.HASH_FIELD))
                    .replaceFirst("\"prev\":\"[0-9a-f]{64}\"$", "\"prev\":\"" + prev + "\"");
            prev = AuditChain.sha256(b);
            lines.set(i, b + AuditChain.HASH_FIELD + prev + "\"}");
        }
        rewrite(lines);
        AuditVerifier.Report report = verify();
        assertFalse(report.ok());
        assertTrue(report.fault().contains("line 101: a checkpoint whose signature does not verify"), report.text());
    }

    @Test
    void checkpointsRemovedFromTheMiddleBreakTheOneAfter() throws IOException {
        write(350, 16 << 20, 10, 100);
        // The second and third checkpoints go (the chain re-linked and renumbered); the fourth,
        // signed over the numbers and hashes as they were, then fails.
        List<String> kept = rechain(lines(), n -> n != 2 && n != 3);
        rewrite(kept);
        AuditVerifier.Report report = verify();
        assertFalse(report.ok());
        // 100 entries, checkpoint 1, then 250 entries (the removed checkpoints' places closed up): the fourth is line 352.
        assertTrue(report.fault().contains("line 352: a checkpoint whose signature does not verify"), report.text());
    }

    @Test
    void aChangedLineFailsItsHash() throws IOException {
        write(50, 16 << 20, 10, 100);
        List<String> lines = lines();
        lines.set(20, lines.get(20).replace("\"actor\":\"root\"", "\"actor\":\"nobody\""));
        rewrite(lines);
        AuditVerifier.Report report = verify();
        assertFalse(report.ok());
        assertTrue(report.fault().startsWith("audit.jsonl line 21 (entry 21): changed"), report.text());
    }

    @Test
    void aRemovedLineBreaksTheNumbering() throws IOException {
        write(50, 16 << 20, 10, 100);
        List<String> lines = lines();
        lines.remove(30);
        rewrite(lines);
        AuditVerifier.Report report = verify();
        assertFalse(report.ok());
        assertTrue(report.fault().contains("line 31: entry 32 follows entry 30 (entries removed)"), report.text());
    }

    @Test
    void reorderedLinesAreFound() throws IOException {
        write(50, 16 << 20, 10, 100);
        List<String> lines = lines();
        String moved = lines.remove(10);
        lines.add(12, moved);
        rewrite(lines);
        AuditVerifier.Report report = verify();
        assertFalse(report.ok());
        assertTrue(report.fault().contains("line 11: entry 12 follows entry 10"), report.text());
    }

    @Test
    void aLineReplacedWithItsNumberKeptBreaksTheChain() throws IOException {
        write(50, 16 << 20, 10, 100);
        List<String> lines = lines();
        // An entry forged with the right number and a hash of its own text, but not naming its predecessor.
        String forged = lines.get(25).replace("\"outcome\":\"ok\"", "\"outcome\":\"failed\"");
        int cut = forged.lastIndexOf(AuditChain.HASH_FIELD);
        String body = forged.substring(0, cut).replaceFirst("\"prev\":\"[0-9a-f]{64}\"$", "\"prev\":\"" + "1".repeat(64) + "\"");
        lines.set(25, body + AuditChain.HASH_FIELD + AuditChain.sha256(body) + "\"}");
        rewrite(lines);
        AuditVerifier.Report report = verify();
        assertFalse(report.ok());
        assertTrue(report.fault().contains("line 26 (entry 26): the chain breaks"), report.text());
    }

    @Test
    void aWholeTrailRewrittenUnderAnotherKeyFailsItsCheckpoints(@TempDir Path elsewhere) throws IOException {
        write(50, 16 << 20, 10, 100);
        // The forger's own trail, chain and checkpoints consistent, copied over the daemon's.
        CheckpointKey forger = CheckpointKey.loadOrCreate(elsewhere, OWNER_ONLY);
        try (AuditChain chain = new AuditChain(elsewhere, 16 << 20, 10, 100, forger, line -> { })) {
            for (int i = 0; i < 50; i++) {
                chain.append(Instant.now(), event(i + 1000));
            }
            chain.checkpoint(Instant.now());
        }
        Files.copy(elsewhere.resolve(AuditChain.FILE_NAME), live(), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        AuditVerifier.Report report = verify();
        assertFalse(report.ok());
        assertTrue(report.fault().contains("a checkpoint by key " + forger.id() + ", not "), report.text());
    }

    @Test
    void aWholeTrailRewrittenWithoutCheckpointsFails() throws IOException {
        write(150, 16 << 20, 10, 100);
        // Recompute the chain over every entry but the checkpoints, renumbered: hashes all consistent.
        List<String> rebuilt = rechain(lines(), n -> false);
        rewrite(rebuilt);
        AuditVerifier.Report report = verify();
        assertFalse(report.ok());
        assertTrue(report.fault().startsWith("no checkpoint signed by key"), report.text());
    }

    @Test
    void checkpointsRemovedFromTheEndAreFound() throws IOException {
        write(250, 16 << 20, 10, 100);
        // The last two checkpoints go, the entries after the first kept and re-chained (the next
        // checkpoint would need the key; without one the tail is too long to be unsigned).
        List<String> kept = rechain(lines(), n -> n == 1);
        rewrite(kept);
        AuditVerifier.Report report = verify();
        assertFalse(report.ok());
        assertTrue(report.fault().contains("entries after the last checkpoint, which promised one every 100"), report.text());
    }

    @Test
    void aLineCutShortIsNamedAndTheDaemonGoesOnAfterIt() throws IOException {
        write(20, 16 << 20, 10, 100);
        byte[] bytes = Files.readAllBytes(live());
        // The last entry cut in the middle, as a crash during its write would leave it.
        Files.write(live(), java.util.Arrays.copyOf(bytes, bytes.length - 40));
        write(5, 16 << 20, 10, 100);
        AuditVerifier.Report report = verify();
        assertFalse(report.ok());
        assertTrue(report.fault().contains("line 21: not an audit entry"), report.text());
        assertTrue(lines().get(21).startsWith("{\"seq\":21,"), "the chain went on from the last whole entry");
    }

    @Test
    void aPublicKeyThatIsNotThePrivateKeysHalfIsRefused(@TempDir Path other) throws IOException {
        key();
        CheckpointKey.loadOrCreate(other, OWNER_ONLY);
        Files.copy(other.resolve(CheckpointKey.PUBLIC_FILE), folder.resolve(CheckpointKey.PUBLIC_FILE),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        IOException refused = assertThrows(IOException.class, this::key);
        assertTrue(refused.getMessage().contains("is not the public half of"), refused.getMessage());
    }

    @Test
    void noTrailAtAllIsSaid() throws IOException {
        key();
        IOException none = assertThrows(IOException.class, this::verify);
        assertTrue(none.getMessage().startsWith("no audit trail in "), none.getMessage());
    }

}
