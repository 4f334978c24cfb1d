package io.cloudbridge.shell.internal;

import io.cloudbridge.api.runtime.RuntimeEnvironment;
import io.cloudbridge.boot.config.SecretText;
import io.cloudbridge.boot.log.LogControl;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.apache.felix.service.command.CommandProcessor;
import org.apache.felix.service.command.CommandSession;
import org.apache.felix.service.command.Converter;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * {@code cb:bugreport}: one archive an operator attaches to a support request, written owner-only
 * to {@code STATE/bugreports/}: the answers of the daemon's own commands (status, configuration
 * with its secrets masked, identity, peers, paths, NAT check, WireGuard, policy, sessions, tunnels,
 * metrics; each only where its feature runs, each given 20 s), the versions of the JVM, the system
 * and every bundle, and the last log lines. No file of the state folder is read, so keys, tokens
 * and credentials stay out of it; and every entry goes through {@link SecretText} last, for a
 * secret a library may have logged at debug level (a bearer token in gRPC's frame log).
 */
@Component(service = BugReportCommand.class, property = {
    "osgi.command.scope=cb",
    "osgi.command.function=bugreport"
})
public final class BugReportCommand {
    /** The commands a report runs, in this order; those of features not installed are noted as absent. */
    static final List<String> COMMANDS = List.of("cb:status", "cb:config", "feature:list", "cb:whoami", "cb:peers", "cb:paths",
            "cb:netcheck", "wg:show", "cb:policy", "relay:tenants", "relay:sessions", "masque:tunnels", "metrics:show");
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss-SSS").withZone(ZoneOffset.UTC);
    /** How long one command may take: a check that waits on a server that does not answer is cut off, not the report. */
    static final long COMMAND_SECONDS = 20;

    @Reference
    private CommandProcessor processor;
    @Reference
    private RuntimeEnvironment environment;
    private BundleContext context;

    @Activate
    void activate(BundleContext ctx) {
        this.context = ctx;
    }

    /** Writes the archive; returns where, and what went into it. */
    public String bugreport() throws IOException {
        Path folder = environment.stateFolder("bugreports");
        Path archive = folder.resolve("cloudbridge-bugreport-" + STAMP.format(Instant.now()) + ".zip");
        StringBuilder summary = new StringBuilder();
        // A thread per command: one that ignores its time-out does not hold up the next.
        ExecutorService worker = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "bugreport");
            t.setDaemon(true);
            return t;
        });
        // Owner-only from its first byte.
        FileAttribute<?>[] ownerOnly = archive.getFileSystem().supportedFileAttributeViews().contains("posix")
                ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))}
                : new FileAttribute<?>[0];
        try (OutputStream file = java.nio.channels.Channels.newOutputStream(Files.newByteChannel(archive,
                Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE), ownerOnly));
                ZipOutputStream zip = new ZipOutputStream(file)) {
            for (String command : COMMANDS) {
                String answer = run(worker, command);
                entry(zip, "commands/" + command.replace(':', '-') + ".txt", answer);
                summary.append(String.format("  %-22s %s%n", command, answer.startsWith(ABSENT) ? "absent" : answer.length() + " characters"));
            }
            entry(zip, "versions.txt", versions());
            List<String> log = LogControl.recentLines();
            entry(zip, "log.jsonl", String.join("\n", log) + "\n");
            summary.append(String.format("  %-22s %d lines%n", "log", log.size()));
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(archive); // no half-written report left behind
            throw e;
        } finally {
            worker.shutdownNow();
        }
        return "bug report written to " + archive + " (owner-only; it holds no key, token or credential):\n" + summary;
    }

    static final String ABSENT = "(not in this daemon: ";

    /** One command's answer as the shell prints it (on the worker, at most {@link #COMMAND_SECONDS}), or why there is none. */
    private String run(ExecutorService worker, String command) {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(captured, true, StandardCharsets.UTF_8);
        CommandSession session = processor.createSession(InputStream.nullInputStream(), out, out);
        Future<Object> answer = worker.submit(() -> session.execute(command));
        try {
            Object result = answer.get(COMMAND_SECONDS, TimeUnit.SECONDS);
            if (result != null) {
                out.println(session.format(result, Converter.INSPECT));
            }
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause != null && cause.getClass().getSimpleName().equals("CommandNotFoundException")) {
                return ABSENT + "its feature is not installed)\n";
            }
            out.println("failed: " + cause);
        } catch (TimeoutException e) {
            answer.cancel(true);
            out.println("(no answer within " + COMMAND_SECONDS + " s)");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            out.println("(interrupted)");
        } catch (Exception e) {
            out.println("failed: " + e);
        } finally {
            session.close();
        }
        out.flush();
        return captured.toString(StandardCharsets.UTF_8);
    }

    private String versions() {
        StringBuilder out = new StringBuilder();
        out.append("java: ").append(System.getProperty("java.vendor")).append(' ').append(System.getProperty("java.runtime.version"))
                .append(" (").append(System.getProperty("java.vm.name")).append(")\n");
        out.append("os: ").append(System.getProperty("os.name")).append(' ').append(System.getProperty("os.version")).append(' ')
                .append(System.getProperty("os.arch")).append('\n');
        out.append("processors: ").append(Runtime.getRuntime().availableProcessors()).append(", max heap: ")
                .append(Runtime.getRuntime().maxMemory() >> 20).append(" MiB\n");
        out.append("role: ").append(context.getProperty("cloudbridge.role")).append(", log level: ")
                .append(LogControl.settings().level()).append("\nbundles:\n");
        for (Bundle b : context.getBundles()) {
            out.append(String.format("  %3d %-48s %-28s %s%n", b.getBundleId(), b.getSymbolicName(), b.getVersion(), state(b.getState())));
        }
        return out.toString();
    }

    private static String state(int state) {
        return switch (state) {
            case Bundle.ACTIVE -> "active";
            case Bundle.RESOLVED -> "resolved";
            case Bundle.INSTALLED -> "installed";
            case Bundle.STARTING -> "starting";
            case Bundle.STOPPING -> "stopping";
            default -> "uninstalled";
        };
    }

    private static void entry(ZipOutputStream zip, String name, String text) throws IOException {
        zip.putNextEntry(new ZipEntry(name));
        zip.write(SecretText.mask(text).getBytes(StandardCharsets.UTF_8));
        zip.closeEntry();
    }
}
