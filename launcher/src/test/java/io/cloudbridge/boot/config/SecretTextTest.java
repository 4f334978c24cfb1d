package io.cloudbridge.boot.config;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class SecretTextTest {
    @Test
    void secretsInsideTextAreMaskedAndTheRestKept() {
        assertEquals("jdbc:postgresql://db/relay?user=cb&password=***&ssl=true",
                SecretText.mask("jdbc:postgresql://db/relay?user=cb&password=hunter2&ssl=true"));
        assertEquals("jdbc:h2:file:/x;PASSWORD=***;FILE_LOCK=FS", SecretText.mask("jdbc:h2:file:/x;PASSWORD=hunter2;FILE_LOCK=FS"));
        assertEquals("https://admin:***@login.example.com/x", SecretText.mask("https://admin:hunter2@login.example.com/x"));
        assertEquals("key cbk_0123456789ab_*** made", SecretText.mask("key cbk_0123456789ab_Q0f-3_xYz9aBcDeFgHiJkLmNoPqRsTuVwXyZ012345678 made"));
        assertEquals("authorization: Bearer ***", SecretText.mask("authorization: Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJuMSJ9.c2ln"));
        assertEquals("token eyJ*** in a log", SecretText.mask("token eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJuMSJ9.c2lnbmF0dXJl in a log"));
        assertEquals("refresh_token=***", SecretText.mask("refresh_token=abc.def"));
        String harmless = "peer 100.64.0.2 via quic://198.51.100.1:8443 key dt/jfjDReNDP9+v8hRUJ9Feo3nHQyHvbXQM//ydOVw0=";
        assertEquals(harmless, SecretText.mask(harmless), "addresses, URLs without credentials and public keys stay");
    }
}
