package io.cloudbridge.audit.internal;

import java.io.IOException;
import java.nio.file.Path;
import java.security.PublicKey;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * {@code audit:verify [FOLDER [PUBLIC_KEY_FILE]]}: checks a trail end to end and fails, naming
 * the file and line, at the first entry changed, removed or out of order, or a checkpoint that
 * does not verify. Without a folder, the daemon's own trail (as it stands at that moment); with
 * one (a copy), against the daemon's own key unless a key file is given: never against a key
 * found beside the files, which whoever rewrote them could have replaced as well.
 */
@Component(service = AuditCommands.class, property = {
    "osgi.command.scope=audit",
    "osgi.command.function=verify"
})
public final class AuditCommands {
    @Reference
    private AuditTrailService trail;

    public String verify(String... args) throws IOException {
        if (args.length > 2) {
            throw new IllegalArgumentException("usage: audit:verify [FOLDER [PUBLIC_KEY_FILE]]");
        }
        PublicKey key = args.length > 1 ? CheckpointKey.readPublic(Path.of(args[1])) : trail.key().publicKey();
        AuditVerifier.Report report;
        if (args.length > 0) {
            report = AuditVerifier.verify(Path.of(args[0]).toAbsolutePath(), key);
        } else {
            try (AuditTrailService.Snapshot now = trail.snapshot()) {
                report = AuditVerifier.verify(now.files(), key, now.liveBytes());
            }
        }
        String text = report.text() + "checkpoint key " + CheckpointKey.idOf(key) + "; " + trail.failures()
                + " entries this daemon could not write, " + trail.forwardFailures() + " lines syslog did not take whole\n";
        if (!report.ok()) {
            // A failed command (exit status 1 from 'cloudbridge exec'), so that a script notices.
            throw new IllegalStateException(text.strip());
        }
        return text;
    }
}
