package io.cloudbridge.wireguard.internal.device;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class CryptoWorkersTest {
    /** Every index of every batch runs exactly once, whichever thread takes it, batch after batch. */
    @Test
    void everyPacketOfEveryBatchIsDoneExactlyOnce() {
        try (CryptoWorkers workers = new CryptoWorkers("test-crypto", 3)) {
            for (int batch = 0; batch < 20_000; batch++) {
                int n = 1 + batch % 70;
                AtomicIntegerArray runs = new AtomicIntegerArray(n);
                workers.forEach(n, runs::incrementAndGet);
                for (int i = 0; i < n; i++) {
                    assertEquals(1, runs.get(i), "batch " + batch + " index " + i);
                }
            }
        }
    }
}
