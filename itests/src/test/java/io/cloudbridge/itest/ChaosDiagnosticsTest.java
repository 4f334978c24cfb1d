package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/**
 * The chaos report's stuck-thread lines, read from a real thread dump of this JVM: a thread blocked
 * on a lock is named with where it waits, and an idle thread is not.
 */
class ChaosDiagnosticsTest {
    private static final Object LOCK = new Object();

    @Test
    void aBlockedThreadIsNamedWithWhereItWaits() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        Thread blocked = new Thread(() -> {
            started.countDown();
            synchronized (LOCK) {
                Thread.onSpinWait();
            }
        }, "chaos-diagnostics-blocked");
        String dump;
        synchronized (LOCK) {
            blocked.start();
            started.await();
            Await.until(java.time.Duration.ofSeconds(10), "the thread blocked on the lock",
                    () -> blocked.getState() == Thread.State.BLOCKED);
            String jcmd = ProcessHandle.current().info().command().map(j -> Path.of(j).resolveSibling("jcmd").toString())
                    .orElse("jcmd");
            dump = ChaosLab.sh(true, jcmd, Long.toString(ProcessHandle.current().pid()), "Thread.print");
        }
        blocked.join();
        List<String> stuck = java.util.Arrays.stream(dump.split("\n\n")).map(ChaosLab::stuckThread)
                .filter(java.util.Objects::nonNull).toList();
        assertTrue(stuck.stream().anyMatch(s -> s.startsWith("chaos-diagnostics-blocked BLOCKED")
                && s.contains("ChaosDiagnosticsTest")), String.join("\n", stuck));
        String main = java.util.Arrays.stream(dump.split("\n\n")).filter(t -> t.startsWith("\"Finalizer\"")).findFirst()
                .orElseThrow();
        assertNull(ChaosLab.stuckThread(main), "a thread waiting for work is not stuck");
    }
}
