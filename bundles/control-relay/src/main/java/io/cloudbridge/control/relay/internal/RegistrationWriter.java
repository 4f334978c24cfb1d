package io.cloudbridge.control.relay.internal;

import io.cloudbridge.api.ipam.AddressAllocator;
import io.cloudbridge.api.ipam.AddressPoolExhaustedException;
import io.cloudbridge.api.ipam.Lease;
import io.cloudbridge.api.net.NodeKey;
import io.cloudbridge.store.Durability;
import java.sql.SQLException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes registrations in bursts, on one thread: everything that arrived while the last burst was
 * being written goes into the next, as one address allocation per tenant, one relay transaction and
 * one durable flush. Under load a registration so costs a few indexed statements instead of three
 * transactions, a lock on its tenant's address counter and a flush of its own (which had made the
 * database half of the relay's CPU per registration). Alone, a registration waits for nobody.
 *
 * <p>Addresses are allocated before the node is written: a node written but never told its
 * address would hold its key against a retry with the same credential, while an address whose
 * node was never written is found again by the retry (allocation is idempotent per key).
 *
 * <p>The queue is bounded: past it a registration is refused at once ({@link QueueFull}) instead
 * of piling up behind the writer. A second registration of one node in a burst waits at the head
 * of the next burst, not at the tail of the queue, where it would count against the bound twice.
 *
 * <p>Tenants wait in queues of their own, and a burst takes from them in turn, one at a time,
 * starting each burst with the tenant after the last one served: a tenant with thousands waiting
 * (signing in after a restart, or flooding) delays another tenant's registration by one burst at
 * most, where one queue for all had put it behind the whole backlog. An eighth of the bound is
 * kept from any one tenant, so that another always finds room.
 */
final class RegistrationWriter implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RegistrationWriter.class);
    /** Enough to amortise the flush; few enough that a burst's slowest answer stays prompt. */
    static final int MAX_BURST = 256;

    /** One registration's outcome; {@code refusal} and {@code exhausted} say why when there is no node. */
    record Outcome(RelayState.Node node, Lease lease, String refreshToken, RelayState.Refusal refusal, String exhausted) {
    }

    private record Pending(RelayState.Registration registration, CompletableFuture<Outcome> outcome) {
    }

    /** The queue is at its bound: the registration was not taken. */
    static final class QueueFull extends RuntimeException {
        QueueFull(int bound) {
            super(bound + " registrations are waiting to be written", null, false, false);
        }
    }

    private final RelayState state;
    private final AddressAllocator ipam;
    private final Durability durability;
    private final int bound;
    private final int tenantBound;
    /** Waiting registrations by tenant, in the order the tenants are served next; guarded by itself. */
    private final LinkedHashMap<String, ArrayDeque<Pending>> waiting = new LinkedHashMap<>();
    private int waitingCount;
    /** Deferred to the next burst (a node's second registration in one burst); the writer's thread only. */
    private final List<Pending> carried = new ArrayList<>();
    private final Thread writer;
    private volatile boolean closed;

    RegistrationWriter(RelayState state, AddressAllocator ipam, Durability durability, int bound) {
        this.state = state;
        this.ipam = ipam;
        this.durability = durability;
        this.bound = bound;
        this.tenantBound = Math.max(1, bound - Math.max(1, bound / 8));
        this.writer = new Thread(this::run, "relay-registration-writer");
        writer.setDaemon(true);
        writer.start();
    }

    /**
     * Queues a registration; the future completes once it is written and flushed, or fails with the
     * database's error.
     *
     * @throws QueueFull when as many registrations as the bound are waiting
     */
    CompletableFuture<Outcome> submit(RelayState.Registration registration) {
        CompletableFuture<Outcome> outcome = new CompletableFuture<>();
        if (closed) {
            outcome.completeExceptionally(new SQLException("the relay is stopping"));
            return outcome;
        }
        synchronized (waiting) {
            ArrayDeque<Pending> own = waiting.get(registration.tenant());
            if (waitingCount >= bound || (own != null && own.size() >= tenantBound)) {
                throw new QueueFull(own != null && own.size() >= tenantBound ? tenantBound : bound);
            }
            if (own == null) {
                own = new ArrayDeque<>();
                waiting.put(registration.tenant(), own);
            }
            own.add(new Pending(registration, outcome));
            waitingCount++;
            waiting.notifyAll();
        }
        if (closed) { // closed meanwhile: whatever the writer has not taken is failed here
            failQueued();
        }
        return outcome;
    }

    private void run() {
        List<Pending> burst = new ArrayList<>(MAX_BURST);
        while (!closed) {
            // Polled, not interrupted: an interrupt inside the database's file I/O closes its file.
            burst.addAll(carried);
            carried.clear();
            try {
                takeInTurn(burst, burst.isEmpty() ? 100 : 0);
            } catch (InterruptedException e) {
                break;
            }
            if (burst.isEmpty()) {
                continue;
            }
            try {
                write(burst);
            } catch (SQLException | RuntimeException e) {
                LOG.error("writing {} registrations failed: {}", burst.size(), e.toString());
                burst.forEach(p -> p.outcome().completeExceptionally(e));
            }
            burst.clear();
        }
        carried.forEach(p -> p.outcome().completeExceptionally(new SQLException("the relay is stopping")));
        carried.clear();
        failQueued();
    }

    private void write(List<Pending> burst) throws SQLException {
        // One registration per node per burst: all moves of leases happen before the transaction,
        // which judges them one after another (a rotation and a plain sign-in of one node together
        // would both be judged against the key before either). The rest go to the next burst.
        java.util.Set<String> nodesInBurst = new java.util.HashSet<>();
        for (java.util.Iterator<Pending> it = burst.iterator(); it.hasNext(); ) {
            Pending p = it.next();
            String own = p.registration().ownNodeId();
            if (own != null && !nodesInBurst.add(own)) {
                carried.add(p);
                it.remove();
            }
        }
        // Addresses per tenant; a tenant whose pool cannot take the whole burst is asked node by node.
        Map<String, List<Pending>> byTenant = new LinkedHashMap<>();
        for (Pending p : burst) {
            byTenant.computeIfAbsent(p.registration().tenant(), t -> new ArrayList<>()).add(p);
        }
        // Rotations first: a node's lease moves to its new key, so that the allocation below finds
        // it and the node keeps its addresses; moved back if the registration does not go through.
        // A node signing in again whose key has no lease gets one made below: released again if
        // it is refused (a node removed meanwhile, a token from before a rotation).
        java.util.Set<Pending> moved = new java.util.HashSet<>();
        java.util.Set<Pending> freshLease = new java.util.HashSet<>();
        List<RelayState.Registered> written;
        List<Pending> toWrite;
        Map<Pending, Lease> leases = new java.util.HashMap<>();
        Map<Pending, String> exhausted = new java.util.HashMap<>();
        try {
            for (Pending p : burst) {
                RelayState.Registration r = p.registration();
                if (r.ownNodeId() == null) {
                    continue;
                }
                if (rotating(r) && ipam.rekey(r.tenant(), NodeKey.parse(r.tokenKey()), NodeKey.parse(r.key()))) {
                    moved.add(p);
                } else if (ipam.lease(r.tenant(), NodeKey.parse(r.key())).isEmpty()) {
                    freshLease.add(p);
                }
            }
            for (Map.Entry<String, List<Pending>> e : byTenant.entrySet()) {
                List<NodeKey> keys = e.getValue().stream().map(p -> NodeKey.parse(p.registration().key())).toList();
                try {
                    List<Lease> granted = ipam.allocateAll(e.getKey(), keys);
                    for (int i = 0; i < granted.size(); i++) {
                        leases.put(e.getValue().get(i), granted.get(i));
                    }
                } catch (AddressPoolExhaustedException full) {
                    for (int i = 0; i < keys.size(); i++) {
                        try {
                            leases.put(e.getValue().get(i), ipam.allocate(e.getKey(), keys.get(i)));
                        } catch (AddressPoolExhaustedException none) {
                            exhausted.put(e.getValue().get(i), none.getMessage());
                        }
                    }
                }
            }
            toWrite = burst.stream().filter(leases::containsKey).toList();
            written = state.register(toWrite.stream().map(Pending::registration).toList());
        } catch (SQLException | RuntimeException e) {
            // Nothing was written (the transaction rolled back): every node keeps the key it has.
            for (Pending p : burst) {
                undo(p.registration(), moved.contains(p), freshLease.contains(p));
            }
            throw e;
        }
        durability.sync(); // the nodes, their leases and refresh tokens outlive a crash from here on
        for (Pending p : burst) {
            String full = exhausted.get(p);
            if (full != null) {
                undo(p.registration(), moved.contains(p), false);
                p.outcome().complete(new Outcome(null, null, null, null, full));
            }
        }
        for (int i = 0; i < toWrite.size(); i++) {
            Pending p = toWrite.get(i);
            RelayState.Registered r = written.get(i);
            settle(p, r, moved.contains(p), freshLease.contains(p));
            p.outcome().complete(new Outcome(r.node(), leases.get(p), r.refreshToken(), r.refusal(), null));
        }
    }

    private static boolean rotating(RelayState.Registration r) {
        return r.ownNodeId() != null && r.tokenKey() != null && !r.tokenKey().equals(r.key());
    }

    /**
     * After the write. Refused: undone. A rotation accepted without a move (the new key had a
     * lease already, left by a registration a crash cut short): the old key's lease is released
     * rather than left behind.
     */
    private void settle(Pending p, RelayState.Registered r, boolean moved, boolean fresh) {
        RelayState.Registration reg = p.registration();
        if (r.refusal() != null) {
            undo(reg, moved, fresh);
            return;
        }
        if (rotating(reg)) {
            if (!moved) {
                ipam.release(reg.tenant(), NodeKey.parse(reg.tokenKey()));
            }
            LOG.info("node {} rotated its key: its addresses {}", reg.ownNodeId(), moved ? "moved with it" : "are new");
        }
    }

    /** A registration that did not go through: a moved lease goes back to the key the node keeps, a lease made for it goes. */
    private void undo(RelayState.Registration reg, boolean moved, boolean fresh) {
        if (moved) {
            ipam.rekey(reg.tenant(), NodeKey.parse(reg.key()), NodeKey.parse(reg.tokenKey()));
        } else if (fresh) {
            ipam.release(reg.tenant(), NodeKey.parse(reg.key()));
        }
    }

    /**
     * Fills {@code burst} up to {@link #MAX_BURST} from the tenants' queues in turn, waiting up to
     * {@code waitMillis} for a first registration. The tenants served go behind those not served,
     * in the order served, so the next burst begins with the tenant after the last one served
     * (with more tenants waiting than a burst holds, each gets its turn within a few bursts).
     */
    private void takeInTurn(List<Pending> burst, long waitMillis) throws InterruptedException {
        synchronized (waiting) {
            if (waitingCount == 0 && waitMillis > 0) {
                waiting.wait(waitMillis);
            }
            if (waitingCount == 0) {
                return;
            }
            List<Map.Entry<String, ArrayDeque<Pending>>> order = new ArrayList<>(waiting.entrySet());
            LinkedHashMap<String, ArrayDeque<Pending>> served = new LinkedHashMap<>();
            while (waitingCount > 0 && burst.size() < MAX_BURST) {
                for (Map.Entry<String, ArrayDeque<Pending>> tenant : order) {
                    Pending p = tenant.getValue().poll();
                    if (p != null) {
                        burst.add(p);
                        waitingCount--;
                        served.remove(tenant.getKey()); // re-put: last served goes last
                        served.put(tenant.getKey(), tenant.getValue());
                        if (burst.size() == MAX_BURST) {
                            break;
                        }
                    }
                }
            }
            waiting.keySet().removeAll(served.keySet());
            served.forEach((tenant, queue) -> {
                if (!queue.isEmpty()) {
                    waiting.put(tenant, queue);
                }
            });
        }
    }

    private void failQueued() {
        List<Pending> left = new ArrayList<>();
        synchronized (waiting) {
            waiting.values().forEach(left::addAll);
            waiting.clear();
            waitingCount = 0;
        }
        left.forEach(p -> p.outcome().completeExceptionally(new SQLException("the relay is stopping")));
    }

    @Override
    public void close() throws InterruptedException {
        closed = true;
        writer.join(5000); // it finishes the burst in hand

        failQueued();
    }
}
