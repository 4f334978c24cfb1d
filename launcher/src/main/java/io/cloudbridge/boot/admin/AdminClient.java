package io.cloudbridge.boot.admin;

import java.io.IOException;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The client side of the admin socket: {@code bin/cloudbridge exec 'COMMAND'} runs one command and
 * exits with its status; {@code bin/cloudbridge shell} keeps one session for many.
 */
public final class AdminClient implements AutoCloseable {
    /** Exit status when the command ran and failed. */
    public static final int EXIT_COMMAND_FAILED = 1;
    /** Exit status when no daemon answers on the socket. */
    public static final int EXIT_NO_DAEMON = 3;
    /** Exit status when the daemon broke the protocol or refused the request. */
    public static final int EXIT_PROTOCOL = 4;

    private final SocketChannel channel;

    private AdminClient(SocketChannel channel) {
        this.channel = channel;
    }

    /** Connects, or explains why not in words an operator can act on. */
    public static AdminClient connect(Path socket) throws NoDaemonException, AccessDeniedException {
        // notExists, not !exists: a socket in a folder this user may not enter is not "absent".
        if (Files.notExists(socket)) {
            throw new NoDaemonException("no CloudBridge daemon is running: the admin socket " + socket
                    + " does not exist (start one with 'cloudbridge run')");
        }
        SocketChannel channel = null;
        try {
            channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            channel.connect(UnixDomainSocketAddress.of(socket));
            return new AdminClient(channel);
        } catch (IOException e) {
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException ignored) {
                    // reporting the connect failure below
                }
            }
            String why = e.getMessage() == null ? e.toString() : e.getMessage();
            if (e instanceof java.nio.file.AccessDeniedException || why.contains("Permission denied")) {
                throw new AccessDeniedException("no permission to use the admin socket " + socket
                        + ": run as the daemon's user or root");
            }
            throw new NoDaemonException("no CloudBridge daemon answers on " + socket + " (" + why + ")");
        }
    }

    /** Runs one command in this connection's session. */
    public AdminProtocol.Response execute(String command) throws IOException {
        try {
            AdminProtocol.writeRequest(channel, command);
        } catch (AdminProtocol.ProtocolException tooLong) {
            throw tooLong;
        } catch (IOException writeFailed) {
            // The daemon may refuse a session before reading from it (a stranger, too many
            // sessions) and close: its answer, if it sent one, says why better than "broken pipe".
            try {
                return AdminProtocol.readResponse(channel);
            } catch (IOException noAnswer) {
                throw writeFailed;
            }
        }
        return AdminProtocol.readResponse(channel);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    /** {@code exec}: prints the output and maps the status to an exit code. */
    public static int exec(Path socket, String command, PrintStream out, PrintStream err) {
        try (AdminClient client = connect(socket)) {
            AdminProtocol.Response response = client.execute(command);
            return print(response, out, err);
        } catch (NoDaemonException e) {
            err.println("cloudbridge: " + e.getMessage());
            return EXIT_NO_DAEMON;
        } catch (AccessDeniedException e) {
            err.println("cloudbridge: " + e.getMessage());
            return EXIT_PROTOCOL;
        } catch (IOException e) {
            err.println("cloudbridge: the admin connection failed: " + e.getMessage());
            return EXIT_PROTOCOL;
        }
    }

    static int print(AdminProtocol.Response response, PrintStream out, PrintStream err) {
        String text = response.output();
        switch (response.status()) {
            case AdminProtocol.OK -> {
                if (!text.isEmpty()) {
                    out.print(text.endsWith("\n") ? text : text + "\n");
                }
                return 0;
            }
            case AdminProtocol.COMMAND_FAILED -> {
                err.print(text.endsWith("\n") ? text : text + "\n");
                return EXIT_COMMAND_FAILED;
            }
            default -> {
                err.println("cloudbridge: the daemon refused the request: " + text);
                return EXIT_PROTOCOL;
            }
        }
    }

    /** The socket exists but this user may not connect to it. */
    public static final class AccessDeniedException extends Exception {
        private static final long serialVersionUID = 1L;

        public AccessDeniedException(String message) {
            super(message);
        }
    }

    /** No daemon listens on the socket. */
    public static final class NoDaemonException extends Exception {
        private static final long serialVersionUID = 1L;

        public NoDaemonException(String message) {
            super(message);
        }
    }
}
