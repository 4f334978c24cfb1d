package io.cloudbridge.audit.internal;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** The {@code audit} section. */
@ObjectClassDefinition(name = "Audit trail",
        description = "The audit log: configuration changes, features and bundles, admin commands and security events,"
                + " chained by hashes, with signed checkpoints.")
public @interface AuditConfig {

    @AttributeDefinition(description = "The trail's folder; empty for STATE/audit. It holds the checkpoint key too (owner-only).")
    String folder() default "";

    @AttributeDefinition(min = "65536", description = "The live file is rotated (audit.jsonl.1, .2, ...) beyond this size; the chain goes on.")
    long maxFileBytes() default 16L * 1024 * 1024;

    @AttributeDefinition(min = "1", max = "1000", description = "Rotated files kept; older ones are deleted.")
    int maxFiles() default 10;

    @AttributeDefinition(min = "1", max = "100000", description = "A signed checkpoint after this many entries.")
    int checkpointEntries() default 100;

    @AttributeDefinition(min = "1", max = "86400", description = "A signed checkpoint at least this often, when entries came since the last.")
    int checkpointSeconds() default 300;

    @AttributeDefinition(description = "Forward every line to this syslog server too (udp://HOST:PORT or HOST:PORT, RFC 5424); empty for none.")
    String syslog() default "";
}
