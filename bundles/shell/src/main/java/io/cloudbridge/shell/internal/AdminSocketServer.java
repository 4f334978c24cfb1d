package io.cloudbridge.shell.internal;

import io.cloudbridge.boot.log.Correlation;
import io.cloudbridge.api.audit.AuditEvent;
import io.cloudbridge.api.audit.AuditTrail;
import io.cloudbridge.api.runtime.AdminSession;
import io.cloudbridge.boot.config.SecretText;
import io.cloudbridge.boot.RuntimeProperties;
import io.cloudbridge.boot.admin.AdminProtocol;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;
import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.apache.felix.service.command.Converter;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Serves Gogo on a Unix domain socket: each connection is one shell session, each frame one
 * command (see {@link AdminProtocol}). The socket file is mode 0600 in a 0700 state folder, and a
 * peer whose user is neither the daemon's nor root is refused even if the mode is loosened.
 */
@Component(immediate = true, configurationPid = "cloudbridge.shell", service = AdminSocketServer.class)
@Designate(ocd = ShellConfig.class)
public final class AdminSocketServer {
    private static final Logger LOG = LoggerFactory.getLogger(AdminSocketServer.class);

    @Reference
    private CommandProcessor processor;
    /** Every command, and every peer refused, goes into the audit trail. */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile AuditTrail audit;

    private Path socketPath;
    private ServerSocketChannel server;
    private Thread acceptor;
    private Semaphore sessions;
    private int idleTimeoutMillis;
    private final Set<SocketChannel> open = ConcurrentHashMap.newKeySet();
    private final AtomicLong refused = new AtomicLong();
    private volatile boolean running;
    private ScheduledExecutorService idleCloser;

    /** The system bundle: its state tells whether the daemon is on its way down. */
    private volatile org.osgi.framework.Bundle framework;

    /** The session attribute with the command being run, for the threads Gogo runs it on. */
    static final String COMMAND_ID = "cloudbridge.admin.command";
    private AutoCloseable ambientIds;

    @Activate
    void activate(BundleContext ctx, ShellConfig config) throws IOException {
        // Gogo runs each command on threads of its own, which know only their job (a thread-local
        // of Gogo's, not inherited): their lines, and the relay's for the calls they make, carry
        // the command's id through it. No other thread is affected.
        ambientIds = Correlation.ambient(AdminSocketServer::commandOfThisThread);
        framework = ctx.getBundle(0);
        socketPath = resolveSocket(ctx, config);
        sessions = new Semaphore(config.maxSessions());
        idleTimeoutMillis = config.idleTimeoutSeconds() * 1000;
        Files.createDirectories(socketPath.getParent());
        // A socket file left by a crash would make bind fail; nothing can be listening on it,
        // since the launcher holds the state folder's lock.
        Files.deleteIfExists(socketPath);
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socketPath));
        try {
            Files.setPosixFilePermissions(socketPath, PosixFilePermissions.fromString("rw-------"));
        } catch (UnsupportedOperationException notPosix) {
            // Windows: the socket inherits the state folder's ACL
        }
        idleCloser = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "cloudbridge-admin-idle");
            t.setDaemon(true);
            return t;
        });
        running = true;
        acceptor = new Thread(this::acceptLoop, "cloudbridge-admin-accept");
        acceptor.setDaemon(true);
        acceptor.start();
        LOG.info("admin shell listening on {}", socketPath);
    }

    /**
     * {@code @Modified} is deliberately absent: a new socket path or session limit re-creates the
     * component, which closes the old socket and opens the new one.
     */
    /** The admin command a Gogo thread runs, or null on any other thread. */
    private static String commandOfThisThread() {
        org.apache.felix.service.command.Job job = org.apache.felix.service.command.Job.Utils.current();
        Object id = job == null ? null : job.session().get(COMMAND_ID);
        return id instanceof String s ? s : null;
    }

    @Deactivate
    void deactivate() {
        try {
            ambientIds.close();
        } catch (Exception e) {
            LOG.warn("removing the admin shell's correlation ids: {}", e.toString());
        }
        running = false;
        idleCloser.shutdownNow();
        try {
            server.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        for (SocketChannel c : open) {
            try {
                c.close();
            } catch (IOException ignored) {
                // closing anyway
            }
        }
        try {
            Files.deleteIfExists(socketPath);
        } catch (IOException e) {
            LOG.warn("cannot remove the admin socket {}", socketPath, e);
        }
        if (acceptor != null) {
            try {
                acceptor.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        LOG.info("admin shell closed");
    }

    static Path resolveSocket(BundleContext ctx, ShellConfig config) {
        String home = ctx.getProperty(RuntimeProperties.HOME);
        String state = ctx.getProperty(RuntimeProperties.STATE);
        if (!config.socket().isBlank()) {
            return (home == null ? Path.of(config.socket()) : Path.of(home).resolve(config.socket())).toAbsolutePath();
        }
        Path stateDir = state != null ? Path.of(state) : Path.of(System.getProperty("java.io.tmpdir"), "cloudbridge");
        return stateDir.resolve("admin.sock").toAbsolutePath();
    }

    public Path socketPath() {
        return socketPath;
    }

    /** Connections refused for a wrong peer user or a broken frame. */
    public long refusedCount() {
        return refused.get();
    }

    private void acceptLoop() {
        while (running) {
            SocketChannel channel;
            try {
                channel = server.accept();
            } catch (java.nio.channels.ClosedChannelException closed) {
                return; // deactivated
            } catch (IOException e) {
                // Transient (out of file descriptors, say): keep the operator's way in open.
                LOG.error("admin socket accept failed; retrying", e);
                java.util.concurrent.locks.LockSupport.parkNanos(100_000_000L);
                continue;
            }
            if (!sessions.tryAcquire()) {
                reply(channel, AdminProtocol.PROTOCOL_ERROR, "too many admin sessions; try again later");
                closeQuietly(channel);
                continue;
            }
            // Random, not a count: the id goes to the relay with the calls a command makes, and every
            // daemon's first session would otherwise be admin-1.
            String id = Correlation.newId("admin");
            Thread t = new Thread(() -> {
                try {
                    serve(channel, id);
                } finally {
                    sessions.release();
                }
            }, "cloudbridge-" + id);
            t.setDaemon(true);
            t.start();
        }
    }

    private void serve(SocketChannel channel, String id) {
        open.add(channel);
        MDC.put("correlationId", id);
        try {
            if (!authorised(channel, socketPath)) {
                refused.incrementAndGet();
                audit("refused", peerUser(channel), AuditEvent.FAILED, Map.of("session", id,
                        "reason", "neither the daemon's user nor root"));
                reply(channel, AdminProtocol.PROTOCOL_ERROR, "permission denied: only the daemon's user or root may"
                        + " administer it");
                return;
            }
            runSession(channel, id);
        } finally {
            open.remove(channel);
            closeQuietly(channel);
            MDC.remove("correlationId");
        }
    }

    /**
     * The peer's credentials, read by the kernel from the socket (SO_PEERCRED): the daemon's user
     * (the socket file's owner, compared by uid, so a uid without a passwd entry works) or root.
     */
    private static boolean authorised(SocketChannel channel, Path socket) {
        UnixDomainPrincipal peer;
        try {
            peer = channel.getOption(ExtendedSocketOptions.SO_PEERCRED);
        } catch (UnsupportedOperationException noPeerCredentials) {
            return true; // platforms without them rely on the socket file's mode alone
        } catch (IOException e) {
            LOG.warn("cannot read the admin peer's credentials; refusing: {}", e.toString());
            return false;
        }
        try {
            if (peer.user().equals(Files.getOwner(socket))) {
                return true;
            }
        } catch (IOException e) {
            LOG.warn("cannot read the admin socket's owner; refusing: {}", e.toString());
            return false;
        }
        return peer.user().getName().equals("root") || peer.user().getName().equals("0");
    }

    /** The peer's user name as the kernel gives it; "unknown" where the platform gives none. */
    private static String peerUser(SocketChannel channel) {
        try {
            return channel.getOption(ExtendedSocketOptions.SO_PEERCRED).user().getName();
        } catch (IOException | UnsupportedOperationException e) {
            return "unknown";
        }
    }

    private void runSession(SocketChannel channel, String id) {
        SwitchableOutput output = new SwitchableOutput();
        PrintStream out = new PrintStream(output, true, StandardCharsets.UTF_8);
        InputStream noInput = InputStream.nullInputStream();
        CommandSession session = processor.createSession(noInput, out, out);
        // Who runs the commands: an administrator's change is recorded under this name (policy history).
        // The audit trail takes it from here, not from the session, where a command could change it.
        String user = peerUser(channel);
        session.put(AdminSession.USER, user);
        try {
            long sequence = 0;
            while (running) {
                ByteBuffer frame;
                try {
                    frame = readWithTimeout(channel);
                } catch (AdminProtocol.ProtocolException e) {
                    refused.incrementAndGet();
                    LOG.warn("admin session {} broke the protocol: {}", id, e.getMessage());
                    reply(channel, AdminProtocol.PROTOCOL_ERROR, e.getMessage());
                    return;
                } catch (IOException e) {
                    return; // peer went away or idle timeout
                }
                if (frame == null) {
                    return; // clean end of session
                }
                String command;
                try {
                    command = AdminProtocol.decodeText(frame);
                } catch (AdminProtocol.ProtocolException e) {
                    refused.incrementAndGet();
                    reply(channel, AdminProtocol.PROTOCOL_ERROR, e.getMessage());
                    return;
                }
                MDC.put("correlationId", id + "." + (++sequence));
                BoundedBuffer buffer = new BoundedBuffer(AdminProtocol.MAX_RESPONSE_BYTES);
                output.target(buffer);
                byte status;
                if (framework.getState() == org.osgi.framework.Bundle.STOPPING) {
                    // Components are going away: a command would find its service half gone (the
                    // framework logs an error for each such call). Say so instead.
                    out.println("the daemon is stopping; command not run");
                    status = AdminProtocol.COMMAND_FAILED;
                } else {
                    // The command as typed, masked as the logs mask secrets (a pre-auth key, a token,
                    // a password in a URL), and who runs it, from the socket's peer credentials:
                    // recorded before it runs (a command that stops the trail is in it), and its
                    // outcome after.
                    String commandId = id + "." + sequence;
                    // For the threads Gogo runs it on (the ambient id, see activate).
                    session.put(COMMAND_ID, commandId);
                    audit("command", user, "started", Map.of("command", SecretText.mask(command.strip()), "session", commandId));
                    status = execute(session, command, out);
                    audit("command", user, status == AdminProtocol.OK ? AuditEvent.OK : AuditEvent.FAILED,
                            Map.of("session", commandId));
                }
                out.flush();
                output.target(null);
                if (!reply(channel, status, buffer.text())) {
                    return;
                }
            }
        } finally {
            session.close();
        }
    }

    private void audit(String action, String user, String outcome, Map<String, String> details) {
        AuditTrail trail = audit;
        if (trail != null) {
            trail.record(new AuditEvent("admin", action, user, outcome, details));
        }
    }

    private ByteBuffer readWithTimeout(SocketChannel channel) throws IOException {
        // Unix-domain channels have no read timeout; an idle session is closed from the side instead.
        ScheduledFuture<?> idle = idleCloser.schedule(() -> {
            LOG.info("closing an admin session idle for {} s", idleTimeoutMillis / 1000);
            closeQuietly(channel);
        }, idleTimeoutMillis, TimeUnit.MILLISECONDS);
        try {
            return AdminProtocol.readFrame(channel, AdminProtocol.MAX_REQUEST_BYTES);
        } finally {
            idle.cancel(false);
        }
    }

    private static byte execute(CommandSession session, String command, PrintStream out) {
        String name = command.strip().split("\\s+", 2)[0];
        // Only the command's name is logged: its arguments may carry secrets.
        LOG.debug("admin command {}", name);
        try {
            Object result = session.execute(command);
            if (result != null) {
                CharSequence text = session.format(result, Converter.INSPECT);
                out.print(text);
                if (text.length() > 0 && text.charAt(text.length() - 1) != '\n') {
                    out.println();
                }
            }
            return AdminProtocol.OK;
        } catch (Exception e) {
            String message = e.getMessage() == null ? e.toString() : e.getMessage();
            out.println(name + ": " + message);
            LOG.info("admin command {} failed: {}", name, message);
            return AdminProtocol.COMMAND_FAILED;
        }
    }

    private static boolean reply(SocketChannel channel, byte status, String text) {
        try {
            AdminProtocol.writeResponse(channel, status, text);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static void closeQuietly(SocketChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // already closing
        }
    }
}
