package io.cloudbridge.testing;

import java.io.File;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.opentest4j.AssertionFailedError;

/**
 * What a test needs from the machine it runs on: root, a tool from the distribution's packages, a
 * set-up step. Where something is missing, the test is skipped with one line saying what and how to
 * get it, so that {@code ./mvnw -B verify} passes for anyone; but in CI ({@code CI=true}, as root
 * after {@code .ci/setup}) nothing may be skipped, because a skipped test there would let what it
 * covers break unnoticed: there the same line fails the test.
 */
public final class Requirements {
    /**
     * Where tools are looked for besides the PATH: daemons such as dnsmasq live in the sbin folders,
     * which an ordinary user's PATH does not hold.
     */
    private static final List<Path> SBIN = List.of(Path.of("/usr/local/sbin"), Path.of("/usr/sbin"), Path.of("/sbin"));
    /** How a fresh Debian or Ubuntu machine gets everything the tests use. */
    public static final String SETUP = "as root, .ci/setup installs everything the tests use";
    /**
     * The forked test JVM's own stderr, not System.err: where a module sends its tests' output to
     * files (redirectTestOutputToFile, as itests does), Surefire still copies what the JVM writes to
     * its native stderr onto the build's console, so the skip line is seen either way.
     */
    private static final PrintStream CONSOLE = new PrintStream(new FileOutputStream(FileDescriptor.err), true,
            StandardCharsets.UTF_8);

    private Requirements() {
    }

    /** Whether this is the CI run, where a missing requirement fails instead of skipping. */
    public static boolean inCi() {
        return "true".equals(System.getenv("CI"));
    }

    /** Whether this process runs as root (uid 0, whatever the user is called). */
    public static boolean isRoot() {
        try {
            return ((Number) Files.getAttribute(Path.of("/proc/self"), "unix:uid")).intValue() == 0;
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return "root".equals(System.getProperty("user.name")); // no /proc: the best guess left
        }
    }

    /**
     * Skips (or, in CI, fails) unless {@code met}.
     *
     * @param met     whether the requirement is met
     * @param missing what is missing, e.g. "root (to build network namespaces)"
     * @param howToGet one short instruction, e.g. "apt-get install dnsmasq-base"
     */
    public static void require(boolean met, String missing, String howToGet) {
        require(met, missing, howToGet, inCi(), CONSOLE);
    }

    static void require(boolean met, String missing, String howToGet, boolean ci, PrintStream out) {
        if (met) {
            return;
        }
        String line = caller() + " needs " + missing + ": " + howToGet;
        if (ci) {
            throw new AssertionFailedError("CI=true, so nothing may be skipped: " + line);
        }
        // Surefire's summary counts skipped tests without saying why: this line says it.
        out.println("[SKIPPED] " + line);
        out.flush();
        Assumptions.abort(line);
    }

    /** Skips (fails in CI) unless this process runs as root. */
    public static void requireRoot(String forWhat) {
        require(isRoot(), "root (" + forWhat + ")", "run the tests as root; " + SETUP);
    }

    /**
     * The tool's path, found on the PATH or in the sbin folders; skips (fails in CI) when it is
     * nowhere.
     *
     * @param install how to get it, e.g. "apt-get install dnsmasq-base"
     */
    public static Path requireTool(String tool, String install) {
        Optional<Path> found = find(tool);
        require(found.isPresent(), "the tool " + tool, install);
        return found.orElseThrow();
    }

    /** Each tool's path, in order; skips (fails in CI) naming every one that is missing. */
    public static List<Path> requireTools(String install, String... tools) {
        List<Path> paths = new ArrayList<>();
        Set<String> missing = new LinkedHashSet<>();
        for (String tool : tools) {
            find(tool).ifPresentOrElse(paths::add, () -> missing.add(tool));
        }
        require(missing.isEmpty(), "the tools " + String.join(", ", missing), install);
        return paths;
    }

    /** The tool's path on the PATH, then in the sbin folders. */
    public static Optional<Path> find(String tool) {
        return find(tool, System.getenv("PATH"));
    }

    static Optional<Path> find(String tool, String path) {
        List<Path> dirs = new ArrayList<>();
        if (path != null) {
            for (String dir : path.split(File.pathSeparator)) {
                if (!dir.isEmpty()) {
                    dirs.add(Path.of(dir));
                }
            }
        }
        dirs.addAll(SBIN);
        return dirs.stream().map(d -> d.resolve(tool)).filter(p -> Files.isRegularFile(p) && Files.isExecutable(p)).findFirst();
    }

    /**
     * The test class that asked, for the line: the first caller named like a test (a helper such as
     * a lab class may ask on a test's behalf), else the first frame outside this class.
     */
    private static String caller() {
        List<String> callers = StackWalker.getInstance().walk(frames -> frames.map(StackWalker.StackFrame::getClassName)
                .filter(c -> !c.equals(Requirements.class.getName())).toList());
        String name = callers.stream().filter(c -> c.endsWith("Test") || c.endsWith("IT")).findFirst()
                .orElse(callers.isEmpty() ? "a test" : callers.get(0));
        return name.substring(name.lastIndexOf('.') + 1);
    }
}
