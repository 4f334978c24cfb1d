package io.cloudbridge.kernel.internal.config;

import io.cloudbridge.api.audit.AuditEvent;
import io.cloudbridge.api.audit.AuditTrail;
import io.cloudbridge.boot.config.ConfigEntry;
import io.cloudbridge.boot.config.ConfigSnapshot;
import io.cloudbridge.boot.config.KeyNames;
import io.cloudbridge.boot.config.SecretText;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The configuration as the audit trail records it: value by value ({@code section.key}), every
 * value masked as the logs mask it, and a secret never shown: it is named, and a diff says it
 * changed. Whether a secret changed is told by an HMAC under a key that lives only in this process,
 * so that no figure derived from the secret reaches the trail. Loads and edits are told from the
 * bridge's executor only; the trail itself may come and go on any thread.
 */
final class ConfigAudit {
    /** Where changes are recorded; absent while the trail is (re)starting. */
    private volatile AuditTrail trail;
    /** The values last applied, as the trail sees them. */
    private Map<String, String> lastValues = Map.of();

    void bind(AuditTrail arrived) {
        trail = arrived;
    }

    void unbind(AuditTrail leaving) {
        if (trail == leaving) {
            trail = null;
        }
    }

    /** The trail has just arrived: it is told the configuration in force, so that later edits show what they changed from. */
    void inForce(AuditTrail arrived, ConfigSnapshot snapshot, Map<String, SectionSchema> schemas) {
        if (snapshot != null && trail == arrived) {
            arrived.record(event("in force", "audit trail started", AuditEvent.OK, shown(values(snapshot, schemas))));
        }
    }

    /** An applied load: everything the first time, else what changed (nothing when no value did). */
    void applied(String trigger, boolean first, Map<String, String> values) {
        Map<String, String> before = lastValues;
        lastValues = values;
        AuditTrail to = trail;
        if (to == null) {
            return;
        }
        if (first) {
            to.record(event("loaded", trigger, AuditEvent.OK, shown(values)));
            return;
        }
        Map<String, String> changed = diff(before, values);
        if (!changed.isEmpty()) {
            to.record(event("applied", trigger, AuditEvent.OK, changed));
        }
    }

    /** An edit refused whole, with its reason (masked). */
    void refused(String trigger, String reason) {
        AuditTrail to = trail;
        if (to != null) {
            to.record(event("refused", trigger, AuditEvent.FAILED, Map.of("reason", SecretText.mask(reason))));
        }
    }
    private static final byte[] PROCESS_KEY = randomKey();
    static final String SECRET = "***";
    static final String UNSET = "(unset)";

    /** Every value of {@code snapshot}, masked; a secret (by its schema or its name) as a keyed digest. */
    static Map<String, String> values(ConfigSnapshot snapshot, Map<String, SectionSchema> schemas) {
        Map<String, String> out = new TreeMap<>();
        if (snapshot == null) {
            return out;
        }
        for (Map.Entry<String, Map<String, ConfigEntry>> section : snapshot.sections().entrySet()) {
            SectionSchema schema = schemas.get(section.getKey());
            for (ConfigEntry e : section.getValue().values()) {
                if (e.value() == null) {
                    continue;
                }
                boolean secret = KeyNames.isSecretName(e.key())
                        || (schema != null && schema.find(e.key()).map(schema::isSecret).orElse(false));
                String text = ConfigBridge.joined(e.value());
                out.put(section.getKey() + "." + e.key(), secret ? SECRET + digest(text) : SecretText.mask(text));
            }
        }
        return out;
    }

    /** What a values map shows the trail: secrets without their digests. */
    static Map<String, String> shown(Map<String, String> values) {
        Map<String, String> out = new LinkedHashMap<>();
        values.forEach((k, v) -> out.put(k, v.startsWith(SECRET) ? SECRET : v));
        return out;
    }

    /** The values that differ between {@code before} and {@code after}: {@code old -> new}, a secret as changed. */
    static Map<String, String> diff(Map<String, String> before, Map<String, String> after) {
        Map<String, String> out = new TreeMap<>();
        TreeMap<String, String> keys = new TreeMap<>(before);
        keys.putAll(after);
        for (String key : keys.keySet()) {
            String was = before.get(key);
            String is = after.get(key);
            if (was != null && was.equals(is)) {
                continue;
            }
            boolean secret = (was != null && was.startsWith(SECRET)) || (is != null && is.startsWith(SECRET));
            if (secret) {
                out.put(key, was == null ? "secret set" : is == null ? "secret removed" : "secret changed");
            } else {
                out.put(key, (was == null ? UNSET : was) + " -> " + (is == null ? UNSET : is));
            }
        }
        return out;
    }

    /** Who made a reload happen, as the trail names them: an edit of the file, else the daemon (a feature change, a bundle). */
    static String actor(String trigger) {
        return "file changed".equals(trigger) ? "file" : "daemon";
    }

    static AuditEvent event(String action, String trigger, String outcome, Map<String, String> values) {
        Map<String, String> details = new LinkedHashMap<>();
        details.put("trigger", trigger);
        details.putAll(values);
        return new AuditEvent("config", action, actor(trigger), outcome, details);
    }

    private static byte[] randomKey() {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        return key;
    }

    private static String digest(String text) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(PROCESS_KEY, "HmacSHA256"));
            return HexFormat.of().formatHex(mac.doFinal(text.getBytes(StandardCharsets.UTF_8)));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
        }
    }
}
