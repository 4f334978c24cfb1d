package io.cloudbridge.transport.support;

import io.cloudbridge.api.transport.PacketReceiver;
import io.cloudbridge.api.transport.PacketSession;
import io.cloudbridge.api.transport.RelayEndpoint;
import io.cloudbridge.api.transport.RelayTransport;
import io.cloudbridge.api.transport.SessionCredentials;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * A node's transport whose sessions are {@link RelaySession}s on one event loop of its own. It
 * keeps its live sessions, so that removing the plugin ({@link #close()}, from the component's
 * deactivation) closes them all and the node moves its peers to another transport.
 */
public abstract class SessionTransport implements RelayTransport {
    protected final EventLoopGroup group;
    private final Set<RelaySession> sessions = ConcurrentHashMap.newKeySet();

    /** Sessions on a NIO event loop. */
    protected SessionTransport() {
        this(NioIoHandler.newFactory());
    }

    /** Sessions on an event loop of the given kind (epoll, where a transport needs its socket options). */
    private boolean closed;

    protected SessionTransport(IoHandlerFactory io) {
        this.group = new MultiThreadIoEventLoopGroup(1, io);
    }

    /** A new session, not yet dialled. */
    protected abstract RelaySession newSession(RelayEndpoint relay, SessionCredentials credentials, PacketReceiver receiver)
            throws Exception;

    @Override
    public final CompletionStage<PacketSession> open(RelayEndpoint relay, SessionCredentials credentials, PacketReceiver receiver) {
        if (!supports(relay)) {
            return CompletableFuture.failedFuture(new IllegalArgumentException(name() + " cannot reach " + relay.uri()));
        }
        RelaySession session;
        // Under the lock that close() takes: a session is either opened before the plugin goes,
        // and closed with it, or refused; never dialled on event loops being shut down (a race
        // between the node's paths and the plugin's removal, found by the chaos test).
        synchronized (this) {
            if (closed) {
                return CompletableFuture.failedFuture(new java.io.IOException(name() + " is being removed"));
            }
            try {
                session = newSession(relay, credentials, receiver);
            } catch (Exception e) {
                return CompletableFuture.failedFuture(e);
            }
            sessions.add(session);
            session.whenEnded(() -> sessions.remove(session));
            return session.open();
        }
    }

    /** Closes every session and the event loop. */
    public void close() {
        synchronized (this) {
            closed = true;
        }
        sessions.forEach(RelaySession::close);
        sessions.clear();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS);
    }
}
