package io.cloudbridge.audit.internal;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One line of the audit file as the verifier reads it: the fields the chain depends on, and
 * whether its hash matches its text. Parsed by the line's fixed shape (the writer's field order),
 * not as free JSON, so that a line reordered inside is not taken for the line it was.
 *
 * @param seq       the entry's number in the trail
 * @param category  its category
 * @param action    its action
 * @param prev      the hash it names for the entry before it
 * @param hash      the hash it carries
 * @param hashValid whether {@code hash} is the SHA-256 of the line up to it
 * @param details   the text of its details object, braces included
 */
record AuditLine(long seq, String category, String action, String prev, String hash, boolean hashValid, String details) {

    private static final String STRING = "\"((?:[^\"\\\\]|\\\\.)*)\"";
    private static final Pattern SHAPE = Pattern.compile("^\\{\"seq\":(\\d{1,18}),\"time\":\"[^\"]+\",\"category\":" + STRING
            + ",\"action\":" + STRING + ",\"actor\":" + STRING + ",\"outcome\":" + STRING
            + ",\"details\":(\\{.*\\}),\"prev\":\"([0-9a-f]{64})\",\"hash\":\"([0-9a-f]{64})\"\\}$", Pattern.DOTALL);
    private static final Pattern CHECKPOINT = Pattern.compile(
            "^\\{\"key\":\"([0-9a-f]{16})\",\"every\":\"(\\d{1,9})\",\"signature\":\"([A-Za-z0-9+/=]+)\"\\}$");

    /** The line's fields, or null when it is not an entry's shape at all. */
    static AuditLine parse(String line) {
        Matcher m = SHAPE.matcher(line);
        if (!m.matches()) {
            return null;
        }
        int cut = line.lastIndexOf(AuditChain.HASH_FIELD);
        String hash = m.group(8);
        boolean valid = AuditChain.sha256(line.substring(0, cut)).equals(hash);
        return new AuditLine(Long.parseLong(m.group(1)), m.group(2), m.group(3), m.group(7), hash, valid, m.group(6));
    }

    boolean isCheckpoint() {
        return "audit".equals(category) && AuditChain.CHECKPOINT_ACTION.equals(action);
    }

    /** The first entry of a file that continues the one before it (after a rotation). */
    boolean isContinued() {
        return "audit".equals(category) && AuditChain.CONTINUED_ACTION.equals(action);
    }

    /** A checkpoint's key id, interval and signature, or null when this is none (or not of that shape). */
    Checkpoint checkpoint() {
        if (!isCheckpoint()) {
            return null;
        }
        Matcher m = CHECKPOINT.matcher(details);
        return m.matches() ? new Checkpoint(m.group(1), Integer.parseInt(m.group(2)), m.group(3)) : null;
    }

    /** What a checkpoint entry says. */
    record Checkpoint(String keyId, int every, String signature) {
    }
}
