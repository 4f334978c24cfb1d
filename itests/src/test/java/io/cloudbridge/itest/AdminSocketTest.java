package io.cloudbridge.itest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cloudbridge.boot.admin.AdminProtocol;
import io.cloudbridge.testing.Requirements;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** The admin socket of a real daemon fed malformed, truncated, oversized and unauthenticated input. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AdminSocketTest {
    @TempDir
    static Path work;
    Daemon daemon;

    @BeforeAll
    void start() throws Exception {
        daemon = new Daemon(work).start();
    }

    @AfterAll
    void stop() throws Exception {
        daemon.close();
    }

    private SocketChannel connect() throws IOException {
        SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
        c.connect(UnixDomainSocketAddress.of(daemon.socket()));
        return c;
    }

    private static void write(SocketChannel c, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            c.write(b);
        }
    }

    private void stillServes() {
        assertEquals(0, daemon.exec("cb:status").exit(), "the daemon still serves other sessions");
    }

    @Test
    void oneSessionRunsManyCommandsAndKeepsItsVariables() throws Exception {
        try (SocketChannel c = connect()) {
            AdminProtocol.writeRequest(c, "greeting = hello");
            assertEquals(AdminProtocol.OK, AdminProtocol.readResponse(c).status());
            AdminProtocol.writeRequest(c, "$greeting");
            AdminProtocol.Response r = AdminProtocol.readResponse(c);
            assertEquals(AdminProtocol.OK, r.status());
            assertEquals("hello\n", r.output());
        }
    }

    @Test
    void anOversizedFrameIsRefusedWithAReason() throws Exception {
        try (SocketChannel c = connect()) {
            write(c, ByteBuffer.allocate(4).putInt(0, 512 * 1024 * 1024));
            AdminProtocol.Response r = AdminProtocol.readResponse(c);
            assertEquals(AdminProtocol.PROTOCOL_ERROR, r.status());
            assertTrue(r.output().contains("exceeds the limit"), r.output());
            assertEquals(-1, c.read(ByteBuffer.allocate(1)), "the session is closed");
        }
        stillServes();
    }

    @Test
    void aTruncatedFrameEndsOnlyThatSession() throws Exception {
        try (SocketChannel c = connect()) {
            write(c, ByteBuffer.allocate(6).putInt(100).put((byte) 'l').put((byte) 'b').flip());
            c.shutdownOutput();
            AdminProtocol.Response r = AdminProtocol.readResponse(c);
            assertEquals(AdminProtocol.PROTOCOL_ERROR, r.status());
            assertTrue(r.output().contains("stream ended inside a frame"), r.output());
        }
        stillServes();
    }

    @Test
    void malformedTextIsRefused() throws Exception {
        try (SocketChannel c = connect()) {
            AdminProtocol.writeFrame(c, new byte[] {(byte) 0xC3, (byte) 0x28, (byte) 0xFF});
            AdminProtocol.Response r = AdminProtocol.readResponse(c);
            assertEquals(AdminProtocol.PROTOCOL_ERROR, r.status());
            assertTrue(r.output().contains("not valid UTF-8"), r.output());
        }
        stillServes();
    }

    @Test
    void anEmptyOrGarbageCommandFailsAsACommand() throws Exception {
        try (SocketChannel c = connect()) {
            AdminProtocol.writeRequest(c, "}{ ((");
            AdminProtocol.Response r = AdminProtocol.readResponse(c);
            assertEquals(AdminProtocol.COMMAND_FAILED, r.status(), r.output());
            AdminProtocol.writeRequest(c, "cb:status");
            assertEquals(AdminProtocol.OK, AdminProtocol.readResponse(c).status(), "the session goes on");
        }
    }

    /**
     * Another local user: refused by the socket's mode, and, were the mode loosened, by the peer
     * credentials the daemon checks itself. Needs root to act as that user (CI runs as root).
     */
    @Test
    void anotherUserIsRefused() throws Exception {
        Requirements.requireRoot("to run a client as another user");
        Requirements.requireTool("setpriv", "apt-get install util-linux");
        try (DistributionCopy dist = DistributionCopy.forAnotherUser()) {
            refusedAsNobody(dist);
        }
        stillServes();
    }

    private void refusedAsNobody(DistributionCopy dist) throws Exception {
        List<String> asNobody = new ArrayList<>(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp", dist.lib() + "/*",
                "-Duser.home=/tmp", "io.cloudbridge.boot.Launcher", "exec", "--socket", daemon.socket().toString(),
                "cb:status"));

        Daemon.Result blocked = Daemon.run(asNobody);
        assertEquals(4, blocked.exit(), blocked.err());
        assertTrue(blocked.err().contains("no permission to use the admin socket"), blocked.err());

        // Loosen the folder and socket modes: the daemon's own peer-credential check still refuses.
        var workMode = Files.getPosixFilePermissions(work);
        var stateMode = Files.getPosixFilePermissions(daemon.state);
        var socketMode = Files.getPosixFilePermissions(daemon.socket());
        try {
            Files.setPosixFilePermissions(work, PosixFilePermissions.fromString("rwx--x--x"));
            Files.setPosixFilePermissions(daemon.state, PosixFilePermissions.fromString("rwx--x--x"));
            Files.setPosixFilePermissions(daemon.socket(), PosixFilePermissions.fromString("rw-rw-rw-"));
            Daemon.Result refused = Daemon.run(asNobody);
            assertEquals(4, refused.exit(), refused.out() + refused.err());
            assertTrue(refused.err().contains("permission denied: only the daemon's user or root"), refused.err());
        } finally {
            Files.setPosixFilePermissions(daemon.state, stateMode);
            Files.setPosixFilePermissions(work, workMode);
            Files.setPosixFilePermissions(daemon.socket(), socketMode);
        }
    }
}
