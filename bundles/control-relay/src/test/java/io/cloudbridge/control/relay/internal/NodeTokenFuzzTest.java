package io.cloudbridge.control.relay.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import org.h2.jdbcx.JdbcConnectionPool;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Fuzz target for the node token a session presents (the QUIC transport's {@code AUTH} line, the
 * WebSocket upgrade's header, gRPC metadata): any byte string from an unauthenticated peer. It is
 * verified or refused with {@link NodeTokens.Refused}; nothing else may escape. The signing key is
 * new on each run, so the seeds are token shapes (ES256, "none", HS256, broken parts), not valid
 * tokens; the fuzzer learns the key id from the comparison that refuses it.
 */
class NodeTokenFuzzTest {
    private static final Instant NOW = Instant.parse("2026-11-25T10:00:00Z");
    private static JdbcConnectionPool db;
    private static NodeTokens tokens;

    @BeforeAll
    static void relay() throws Exception {
        db = JdbcConnectionPool.create("jdbc:h2:mem:fuzz-tokens;DB_CLOSE_DELAY=-1", "", "");
        tokens = new NodeTokens(new RelayState(db, io.cloudbridge.store.FleetKeySealer.NONE), "relay", Duration.ofMinutes(15), Duration.ofDays(365));
        tokens.issue("n1", "acme", "key", NOW, new StringBuilder()); // the signing key, made once
    }

    @AfterAll
    static void close() {
        db.dispose();
    }

    @FuzzTest
    void presentedToken(byte[] data) {
        String token = new String(data, StandardCharsets.UTF_8);
        try {
            NodeTokens.Claims c = tokens.verify(token, NOW);
            // Only a token this relay signed gets here: its claims are whole.
            assertNotNull(c.nodeId());
            assertNotNull(c.tenant());
            assertEquals(c, tokens.verify(token, NOW));
        } catch (NodeTokens.Refused e) {
            assertNotNull(e.getMessage());
        }
    }
}
