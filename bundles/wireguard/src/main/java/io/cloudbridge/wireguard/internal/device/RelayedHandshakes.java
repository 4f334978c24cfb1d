package io.cloudbridge.wireguard.internal.device;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Handshake messages that arrived over a relay, waiting for the device's handshake thread. Whoever
 * hands them in (a relay's forwarding thread, an event loop other tenants share) only enqueues;
 * the Diffie-Hellman work (one to four X25519 a message) runs here, one message at a time. The
 * queue is bounded, and so is each sender's part of it, so one node's burst neither grows memory
 * nor pushes other nodes' handshakes out; what does not fit is refused for the caller to count.
 * Its depth is the device's load signal for relayed handshakes (as wireguard-go's handshake queue is).
 */
final class RelayedHandshakes implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RelayedHandshakes.class);
    static final int CAPACITY = 256;
    /** From this depth on the device is under load: a relayed handshake must then carry a cookie (MAC2). */
    static final int UNDER_LOAD = CAPACITY / 8;
    /** Messages of one sender waiting at most: a budget's burst and a little more. */
    static final int PER_SENDER = 8;

    /** One message and the peer (the relay's authenticated sender) it came from. */
    record Job(Peer sender, byte[] message) {
    }

    enum Offer { QUEUED, SENDER_BUSY, FULL, CLOSED }

    private final BlockingQueue<Job> queue = new ArrayBlockingQueue<>(CAPACITY);
    private final AtomicBoolean draining = new AtomicBoolean();
    private final Consumer<Job> handler;
    private final Executor executor;
    private volatile boolean closed;

    /**
     * @param executor runs the drain; one drain is scheduled at a time, so a single thread is all it
     *                 needs ({@link #ownThread()} makes one that exists only while there is work)
     */
    RelayedHandshakes(Consumer<Job> handler, Executor executor) {
        this.handler = handler;
        this.executor = executor;
    }

    /** A thread of its own that comes when a message does and goes after 30 s idle: an idle gateway holds none. */
    static ExecutorService ownThread() {
        ThreadPoolExecutor pool = new ThreadPoolExecutor(1, 1, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(r, "wireguard-relayed-handshakes");
            t.setDaemon(true);
            return t;
        });
        pool.allowCoreThreadTimeOut(true);
        return pool;
    }

    Offer offer(Peer sender, byte[] message) {
        if (closed) {
            return Offer.CLOSED;
        }
        if (sender.relayedWaiting.incrementAndGet() > PER_SENDER) {
            sender.relayedWaiting.decrementAndGet();
            return Offer.SENDER_BUSY;
        }
        if (!queue.offer(new Job(sender, message))) {
            sender.relayedWaiting.decrementAndGet();
            return Offer.FULL;
        }
        schedule();
        return Offer.QUEUED;
    }

    boolean underLoad() {
        return queue.size() >= UNDER_LOAD;
    }

    int waiting() {
        return queue.size();
    }

    private void schedule() {
        if (!closed && draining.compareAndSet(false, true)) {
            try {
                executor.execute(this::drain);
            } catch (RejectedExecutionException stopping) {
                draining.set(false);
            }
        }
    }

    private void drain() {
        try {
            Job job;
            while (!closed && (job = queue.poll()) != null) {
                job.sender().relayedWaiting.decrementAndGet();
                try {
                    handler.accept(job);
                } catch (RuntimeException e) {
                    LOG.warn("a relayed handshake raised {}", e.toString()); // the device counts what it refused
                }
            }
        } finally {
            draining.set(false);
        }
        if (!queue.isEmpty()) {
            schedule(); // enqueued between the last poll and the flag's reset
        }
    }

    @Override
    public void close() {
        closed = true;
        queue.clear();
        if (executor instanceof ExecutorService service) {
            service.shutdownNow();
        }
    }
}
