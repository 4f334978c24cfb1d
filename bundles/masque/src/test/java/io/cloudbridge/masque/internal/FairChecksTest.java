package io.cloudbridge.masque.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Token checks are taken in turn by connection (issue 23 item 4): a tenant flooding requests on
 * its connection does not put another client's first request behind all of them, as the proxy's
 * first-come pool did.
 */
class FairChecksTest {
    private final FairChecks checks = new FairChecks(1, 64, 1024, "test-checks");

    @AfterEach
    void stop() {
        checks.shutdownNow();
    }

    /**
     * The attack: A's connection queues 40 checks while the only thread is busy with A's first;
     * then B's connection asks for one. B's is the next to run, not the 41st.
     */
    @Test
    void anotherConnectionsCheckRunsNextNotAfterTheFlood() throws Exception {
        Object a = new Object();
        Object b = new Object();
        CountDownLatch running = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        List<String> order = new CopyOnWriteArrayList<>();
        CountDownLatch all = new CountDownLatch(42);
        checks.execute(a, () -> {
            running.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            order.add("a0");
            all.countDown();
        });
        assertTrue(running.await(10, TimeUnit.SECONDS), "A's first check holds the thread");
        for (int i = 1; i <= 40; i++) {
            String name = "a" + i;
            checks.execute(a, () -> {
                order.add(name);
                all.countDown();
            });
        }
        checks.execute(b, () -> {
            order.add("b");
            all.countDown();
        });
        release.countDown();
        assertTrue(all.await(10, TimeUnit.SECONDS), "every check ran: " + order);
        assertEquals(List.of("a0", "a1", "b", "a2"), order.subList(0, 4), "A and B take turns: " + order);
        assertEquals("a40", order.get(41), "A's own come in its order");
    }

    @Test
    void oneConnectionHasABoundedQueue() throws Exception {
        FairChecks small = new FairChecks(1, 2, 3, "test-small");
        try {
            CountDownLatch release = new CountDownLatch(1);
            CountDownLatch running = new CountDownLatch(1);
            Object a = new Object();
            small.execute(a, () -> {
                running.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            assertTrue(running.await(10, TimeUnit.SECONDS));
            small.execute(a, () -> { });
            small.execute(a, () -> { });
            assertThrows(RejectedExecutionException.class, () -> small.execute(a, () -> { }), "A has two waiting");
            small.execute(new Object(), () -> { });
            assertThrows(RejectedExecutionException.class, () -> small.execute(new Object(), () -> { }), "three waiting in all");
            release.countDown();
        } finally {
            small.shutdownNow();
        }
    }
}
