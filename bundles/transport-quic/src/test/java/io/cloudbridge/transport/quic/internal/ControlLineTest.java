package io.cloudbridge.transport.quic.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class ControlLineTest {
    @Test
    void busySaysWhenToComeBackAndWhy() {
        ControlLine busy = ControlLine.fromRelay("BUSY 2 the relay cannot check tokens now");
        assertEquals(ControlLine.Kind.BUSY, busy.kind());
        assertEquals(2, busy.number());
        assertEquals("the relay cannot check tokens now", busy.argument());
    }

    @Test
    void aBusyWaitOutOfRangeOrMissingIsBounded() {
        assertEquals(ControlLine.MAX_BUSY_SECONDS, ControlLine.fromRelay("BUSY 999999 later").number());
        assertEquals(1, ControlLine.fromRelay("BUSY 0 now").number());
        assertEquals(1, ControlLine.fromRelay("BUSY").number());
        assertEquals("busy", ControlLine.fromRelay("BUSY").argument());
        ControlLine words = ControlLine.fromRelay("BUSY soon please");
        assertEquals(1, words.number());
        assertEquals("soon please", words.argument());
        assertEquals(ControlLine.MAX_BUSY_SECONDS, ControlLine.fromRelay("BUSY 99999999999999999999 x").number());
        assertEquals("x", ControlLine.fromRelay("BUSY 99999999999999999999 x").argument());
        assertEquals(1, ControlLine.fromRelay("BUSY -5 x").number());
    }

    @Test
    void anErrorIsStillARefusal() {
        assertEquals(ControlLine.Kind.ERR, ControlLine.fromRelay("ERR node removed").kind());
        assertEquals(ControlLine.Kind.UNKNOWN, ControlLine.fromRelay("BUS").kind());
        assertEquals(ControlLine.Kind.UNKNOWN, ControlLine.fromRelay("BUSYX 2 no").kind());
    }
}
