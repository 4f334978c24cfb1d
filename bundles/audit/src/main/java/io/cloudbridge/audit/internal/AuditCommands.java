package io.cloudbridge.audit.internal;

import java.io.IOException;
import java.nio.file.Path;
import java.security.PublicKey;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * {@code audit:verify [FOLDER [PUBLIC_KEY_FILE]]}: checks a trail end to end (the daemon's own,
 * with its own key, when no folder is given) and fails, naming the file and line, at the first
 * entry changed, removed or out of order, or a checkpoint that does not verify.
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
        Path folder = args.length > 0 ? Path.of(args[0]).toAbsolutePath() : trail.folder();
        PublicKey key = args.length > 1 ? CheckpointKey.readPublic(Path.of(args[1]))
                : args.length > 0 ? CheckpointKey.readPublic(folder.resolve(CheckpointKey.PUBLIC_FILE)) : trail.key().publicKey();
        AuditVerifier.Report report = AuditVerifier.verify(folder, key);
        String text = report.text() + "checkpoint key " + CheckpointKey.idOf(key) + "; " + trail.failures()
                + " entries this daemon could not write, " + trail.forwardFailures() + " lines syslog did not take\n";
        if (!report.ok()) {
            // A failed command (exit status 1 from 'cloudbridge exec'), so that a script notices.
            throw new IllegalStateException(text.strip());
        }
        return text;
    }
}
