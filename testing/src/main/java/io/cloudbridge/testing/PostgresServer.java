package io.cloudbridge.testing;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * A real PostgreSQL server for the tests of one JVM: the distribution's own binaries
 * ({@code initdb}, {@code pg_ctl}), a cluster made in a temporary folder, listening on 127.0.0.1 on
 * a free port, with password (SCRAM) authentication over TCP as the relays use it. PostgreSQL
 * refuses to run as root, so as root the cluster belongs to {@code nobody} and its commands run
 * through {@code setpriv}; as anyone else it is that user's own. Started on first use, shared by
 * every test of the JVM (each takes a database of its own, {@link #newDatabase}), and stopped when
 * the JVM exits. Missing binaries skip the test, or fail it in CI ({@link Requirements}).
 */
public final class PostgresServer {
    /** The cluster's superuser, as the relays sign in (by password). */
    public static final String USER = "cloudbridge";
    private static final int NOBODY = 65_534;
    private static PostgresServer shared;
    /** Why the server could not start, once: the tests after the first fail at once instead of trying again. */
    private static IllegalStateException failed;

    private final Path folder;
    private final Path bin;
    private final boolean asNobody;
    private final int port;
    private final String password;
    private final AtomicInteger databases = new AtomicInteger();

    /** Where a test database is, and how to sign in to it. */
    public record Database(String url, String user, String password) {
        /** A pool on it (HikariCP over the driver's data source, as the relay opens it), for a test to close. */
        public HikariDataSource pool() {
            PGSimpleDataSource driver = new PGSimpleDataSource();
            driver.setURL(url);
            driver.setUser(user);
            driver.setPassword(password);
            HikariConfig config = new HikariConfig();
            config.setDataSource(driver);
            config.setMaximumPoolSize(8);
            config.setMinimumIdle(0);
            return new HikariDataSource(config);
        }
    }

    private PostgresServer(Path folder, Path bin, boolean asNobody, int port, String password) {
        this.folder = folder;
        this.bin = bin;
        this.asNobody = asNobody;
        this.port = port;
        this.password = password;
    }

    /** The JVM's server, started now if it is not running yet; skips (fails in CI) where PostgreSQL is not installed. */
    public static synchronized PostgresServer shared() {
        if (failed != null) {
            throw failed;
        }
        if (shared == null) {
            Optional<Path> bin = binaries();
            Requirements.require(bin.isPresent(), "PostgreSQL's server (initdb and pg_ctl under /usr/lib/postgresql/*/bin)",
                    "apt-get install postgresql (" + Requirements.SETUP + ")");
            boolean root = Requirements.isRoot();
            if (root) {
                Requirements.requireTool("setpriv", "apt-get install util-linux");
            }
            try {
                shared = start(bin.get(), root);
            } catch (IOException e) {
                failed = new IllegalStateException("cannot start PostgreSQL: " + e.getMessage(), e);
                throw failed;
            }
        }
        return shared;
    }

    /** The newest installed version's binaries. */
    static Optional<Path> binaries() {
        Path root = Path.of("/usr/lib/postgresql");
        if (!Files.isDirectory(root)) {
            return Optional.empty();
        }
        try (Stream<Path> versions = Files.list(root)) {
            return versions.map(v -> v.resolve("bin"))
                    .filter(b -> Files.isExecutable(b.resolve("initdb")) && Files.isExecutable(b.resolve("pg_ctl")))
                    .max(Comparator.comparing(b -> versionOf(b.getParent().getFileName().toString())));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static int versionOf(String name) {
        try {
            return Integer.parseInt(name.replaceAll("[^0-9].*", ""));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private static PostgresServer start(Path bin, boolean asNobody) throws IOException {
        Path folder = Files.createTempDirectory("cloudbridge-pg");
        byte[] secret = new byte[16];
        new java.security.SecureRandom().nextBytes(secret);
        String password = java.util.HexFormat.of().formatHex(secret);
        Path passwordFile = folder.resolve("password");
        Files.writeString(passwordFile, password + "\n", StandardCharsets.UTF_8);
        int port;
        try (ServerSocket probe = new ServerSocket(0)) {
            port = probe.getLocalPort();
        }
        PostgresServer server = new PostgresServer(folder, bin, asNobody, port, password);
        // Stopped and removed when the JVM ends, also when it failed to start half-way.
        Runtime.getRuntime().addShutdownHook(new Thread(server::stop, "postgres-stop"));
        if (asNobody) {
            // The cluster's user must own its folder, and enter every folder above it (/tmp does).
            try (Stream<Path> files = Files.walk(folder)) {
                for (Path p : (Iterable<Path>) files::iterator) {
                    Files.setAttribute(p, "unix:uid", NOBODY);
                    Files.setAttribute(p, "unix:gid", NOBODY);
                }
            }
        }
        Files.setPosixFilePermissions(folder, PosixFilePermissions.fromString("rwx------"));
        Path data = folder.resolve("data");
        server.run(List.of(bin.resolve("initdb").toString(), "-D", data.toString(), "-U", USER, "--pwfile", passwordFile.toString(),
                "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C", "--no-sync"));
        // Tests need no durability from it: fsync off keeps each commit at memory speed.
        server.run(List.of(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-l", folder.resolve("log").toString(), "-w",
                "-t", "60", "-o", "-p " + port + " -k " + folder + " -c listen_addresses=127.0.0.1 -c fsync=off"
                        + " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                "start"));
        return server;
    }

    private void run(List<String> command) throws IOException {
        List<String> full = new ArrayList<>();
        if (asNobody) {
            full.addAll(List.of("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups", "--"));
        }
        full.addAll(command);
        Process p = new ProcessBuilder(full).directory(folder.toFile()).redirectErrorStream(true)
                .redirectOutput(folder.resolve("commands.log").toFile()).start();
        try {
            if (!p.waitFor(90, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(command.get(0) + " did not finish in 90 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        if (p.exitValue() != 0) {
            String log = Files.exists(folder.resolve("log")) ? Files.readString(folder.resolve("log")) : "";
            throw new IOException(String.join(" ", command) + " exited with " + p.exitValue() + ": "
                    + Files.readString(folder.resolve("commands.log")) + log);
        }
    }

    /** A new, empty database of its own (a test's). */
    public Database newDatabase() {
        String name = "test_" + databases.incrementAndGet();
        Database admin = new Database("jdbc:postgresql://127.0.0.1:" + port + "/postgres", USER, password);
        try (HikariDataSource pool = admin.pool(); Connection c = pool.getConnection(); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + name);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create a test database: " + e.getMessage(), e);
        }
        return new Database("jdbc:postgresql://127.0.0.1:" + port + "/" + name, USER, password);
    }

    /** The password of {@link #USER}, for a test that writes it to a relay's password file. */
    public String password() {
        return password;
    }

    private void stop() {
        if (Files.isDirectory(folder.resolve("data"))) {
            try {
                run(List.of(bin.resolve("pg_ctl").toString(), "-D", folder.resolve("data").toString(), "-m", "immediate", "-w", "stop"));
            } catch (IOException e) {
                // going anyway: the folder below goes with what is left
            }
        }
        try (Stream<Path> files = Files.walk(folder)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a temporary folder left behind
        }
    }
}
