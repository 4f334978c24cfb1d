package io.cloudbridge.wireguard.internal.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

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

    /** A task that throws ends neither the batch nor a helper: the rest runs, the failure comes out, the next batch works. */
    @Test
    void aFailingTaskNeitherHangsNorLosesTheRest() {
        try (CryptoWorkers workers = new CryptoWorkers("test-crypto", 2)) {
            for (int round = 0; round < 200; round++) {
                AtomicIntegerArray runs = new AtomicIntegerArray(64);
                int failing = round % 64;
                IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> workers.forEach(64, i -> {
                    runs.incrementAndGet(i);
                    if (i == failing) {
                        throw new IllegalStateException("task " + i);
                    }
                }));
                assertEquals("task " + failing, thrown.getMessage());
                for (int i = 0; i < 64; i++) {
                    assertEquals(1, runs.get(i));
                }
                AtomicIntegerArray after = new AtomicIntegerArray(64);
                workers.forEach(64, after::incrementAndGet);
                for (int i = 0; i < 64; i++) {
                    assertEquals(1, after.get(i));
                }
            }
        }
    }
}
