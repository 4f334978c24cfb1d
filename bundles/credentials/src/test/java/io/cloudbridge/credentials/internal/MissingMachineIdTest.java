package io.cloudbridge.credentials.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.cloudbridge.testing.Requirements;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A machine without a D-Bus machine id, as minimal containers are, made for real: the machine id
 * files are covered with an empty file in a mount namespace of the check's own (unshare -m, so no
 * other process sees it). dbus-java then refuses every bus ("Cannot Resolve Session Bus Address:
 * MachineId file can not be found"); mode {@code auto} must still choose files at once, and say
 * what is missing and how to make it. Needs root for the mount namespace.
 */
class MissingMachineIdTest {
    private static final List<String> MACHINE_ID_FILES = List.of("/etc/machine-id", "/var/lib/dbus/machine-id",
            "/usr/local/var/lib/dbus/machine-id");

    @TempDir
    Path tmp;

    @Test
    void autoChoosesFilesAndNamesTheMissingMachineId() throws Exception {
        Requirements.requireRoot("to hide the machine id in a mount namespace");
        Requirements.requireTool("unshare", "apt-get install util-linux");
        Path empty = Files.createFile(tmp.resolve("empty-machine-id"));
        StringBuilder script = new StringBuilder();
        for (String f : MACHINE_ID_FILES) {
            script.append("if [ -e ").append(f).append(" ]; then mount --bind \"$CB_EMPTY\" ").append(f)
                    .append(" || exit 97; fi; ");
        }
        script.append("exec \"$0\" \"$@\"");
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of("unshare", "-m", "--propagation", "private", "sh", "-c", script.toString(),
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp", classPath,
                MachineIdCheck.class.getName(), tmp.resolve("credentials").toString(), "unix:path=" + tmp.resolve("no-bus")));
        Path output = tmp.resolve("output.txt");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(output.toFile());
        pb.environment().remove("DBUS_MACHINE_ID_LOCATION"); // dbus-java would read that file first
        pb.environment().put("CB_EMPTY", empty.toString());
        Process p = pb.start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("the check did not finish within 60 s:\n" + Files.readString(output, StandardCharsets.UTF_8));
        }
        String out = Files.readString(output, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("\nbackend=file\n"), out);
        assertTrue(out.contains("D-Bus needs a machine id") && out.contains("dbus-uuidgen --ensure"), out);
        long millis = out.lines().filter(l -> l.startsWith("millis=")).mapToLong(l -> Long.parseLong(l.substring(7)))
                .findFirst().orElseThrow();
        assertTrue(millis < 5000, "the choice took " + millis + " ms");
    }
}
