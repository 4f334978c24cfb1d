package io.cloudbridge.ice.internal;

import io.cloudbridge.api.mesh.PathKind;
import io.cloudbridge.api.tunnel.DatagramTunnel;
import io.cloudbridge.api.tunnel.MasquePath;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A CONNECT-UDP tunnel through a MASQUE proxy to one remote candidate, as an ICE base: checks
 * and, once its pair is nominated, WireGuard's packets to that candidate leave through it. Unlike
 * a TURN allocation, a tunnel reaches one target only (the proxy's socket toward it is connected,
 * and the client never learns that socket's address), hence one base per remote candidate. The
 * peer sees our checks come from the proxy's socket, a peer-reflexive candidate, and answers
 * there: back through the tunnel.
 */
final class MasqueBase implements IceEngine.Base {
    private static final Logger LOG = LoggerFactory.getLogger(MasqueBase.class);
    /** A refused or failed tunnel is asked for again at the next check after this long, not at every check. */
    static final long REOPEN_AFTER_FAILURE_NANOS = TimeUnit.SECONDS.toNanos(10);

    final InetSocketAddress target;
    private final MasquePath masque;
    private final BiConsumer<MasqueBase, ByteBuffer> inbound;
    /** The open tunnel, or null. Guarded by this, as are the fields below; read without the lock on the send path. */
    private volatile DatagramTunnel tunnel;
    private boolean opening;
    private long failedNanos = -1;
    /**
     * Which open counts: each open takes the next token, close() takes one too. An open's answer,
     * and its tunnel's end, change the state only while their token is the current one; a tunnel
     * whose open no longer counts is closed as it arrives.
     */
    private int token;
    private volatile String state = "opening";

    MasqueBase(InetSocketAddress target, MasquePath masque, BiConsumer<MasqueBase, ByteBuffer> inbound) {
        this.target = target;
        this.masque = masque;
        this.inbound = inbound;
    }

    boolean uses(MasquePath path) {
        return masque == path;
    }

    String proxy() {
        return masque.proxy();
    }

    void open() {
        int mine;
        synchronized (this) {
            if (opening || tunnel != null) {
                return;
            }
            opening = true;
            state = "opening";
            mine = ++token;
        }
        java.util.concurrent.atomic.AtomicBoolean ended = new java.util.concurrent.atomic.AtomicBoolean();
        DatagramTunnel.Receiver receiver = new DatagramTunnel.Receiver() {
            @Override
            public void received(ByteBuffer payload) {
                inbound.accept(MasqueBase.this, payload);
            }

            @Override
            public void ended(String why) {
                ended.set(true);
                synchronized (MasqueBase.this) {
                    if (token == mine) {
                        tunnel = null;
                        opening = false;
                        state = "ended: " + why;
                    }
                }
                LOG.debug("MASQUE tunnel to {} ended: {}", target, why);
            }
        };
        java.util.concurrent.CompletionStage<DatagramTunnel> opened;
        try {
            opened = masque.open(target, receiver);
        } catch (RuntimeException e) {
            opened = java.util.concurrent.CompletableFuture.failedFuture(e); // the masque bundle is going away
        }
        opened.whenComplete((t, failure) -> {
            boolean keep = false;
            synchronized (this) {
                if (token == mine) {
                    opening = false;
                    if (failure != null) {
                        failedNanos = System.nanoTime();
                        state = "refused: " + rootMessage(failure);
                    } else if (ended.get()) {
                        state = "ended as it opened"; // its connection went right after the 200: the next check opens another
                    } else {
                        tunnel = t;
                        failedNanos = -1;
                        state = "open";
                        keep = true;
                    }
                }
            }
            if (failure != null) {
                LOG.info("no MASQUE tunnel to {} through {}: {}", target, masque.proxy(), rootMessage(failure));
            } else if (!keep) {
                t.close();
            }
        });
    }

    private static String rootMessage(Throwable t) {
        while (t.getCause() != null && (t instanceof java.util.concurrent.CompletionException
                || t instanceof java.util.concurrent.ExecutionException)) {
            t = t.getCause();
        }
        return t.getMessage() == null ? t.toString() : t.getMessage();
    }

    /** Closes the tunnel (and makes an open under way count for nothing); a later check opens it again. */
    void close() {
        DatagramTunnel t;
        synchronized (this) {
            token++;
            t = tunnel;
            tunnel = null;
            opening = false;
            state = "closed";
        }
        if (t != null) {
            t.close();
        }
    }

    String state() {
        return state;
    }

    @Override
    public boolean send(InetSocketAddress to, ByteBuffer datagram) {
        DatagramTunnel t = tunnel;
        return t != null && to.equals(target) && t.send(datagram);
    }

    @Override
    public void prepare(InetSocketAddress to, long now) {
        boolean due;
        synchronized (this) {
            due = tunnel == null && !opening && (failedNanos < 0 || now - failedNanos > REOPEN_AFTER_FAILURE_NANOS);
        }
        if (due) {
            open();
        }
    }

    @Override
    public PathKind kind() {
        return PathKind.MASQUE;
    }

    @Override
    public String describe() {
        return "masque " + masque.proxy();
    }

    @Override
    public String toString() {
        return "MASQUE tunnel to " + target + " (" + state + ")";
    }
}
