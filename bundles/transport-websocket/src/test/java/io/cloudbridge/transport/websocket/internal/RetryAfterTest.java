package io.cloudbridge.transport.websocket.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class RetryAfterTest {
    @Test
    void secondsAreTakenWithinOneToSixty() {
        assertEquals(Duration.ofSeconds(2), WebSocketSession.retryAfter("2"));
        assertEquals(Duration.ofSeconds(2), WebSocketSession.retryAfter(" 2 "));
        assertEquals(Duration.ofSeconds(60), WebSocketSession.retryAfter("86400"), "a relay cannot park its nodes for a day");
        assertEquals(Duration.ofSeconds(1), WebSocketSession.retryAfter("0"));
        assertEquals(Duration.ofSeconds(1), WebSocketSession.retryAfter("-5"), "not delay-seconds");
    }

    @Test
    void nothingOrNonsenseIsOneSecond() {
        assertEquals(Duration.ofSeconds(1), WebSocketSession.retryAfter(null));
        assertEquals(Duration.ofSeconds(1), WebSocketSession.retryAfter(""));
        assertEquals(Duration.ofSeconds(1), WebSocketSession.retryAfter("Wed, 21 Oct 2026 07:28:00 GMT"));
        assertEquals(Duration.ofSeconds(60), WebSocketSession.retryAfter("99999999999999999999999"), "long is long");
    }
}
