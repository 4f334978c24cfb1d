package io.cloudbridge.itest;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Every ERROR line the daemons write during a chaos run is either on this reviewed list, each with
 * why an operator's action makes it right to log, or it fails the run.
 */
final class ChaosErrors {
    /** Pattern of an expected ERROR line, and why it is expected. */
    static final Map<Pattern, String> EXPECTED = new LinkedHashMap<>();

    static {
        expect("\"message\":\"configuration refused", "an invalid edit the test made on purpose; the last good one stays");
        expect("com.example.vendor.faulty", "the vendor jar whose component throws on activation, dropped in on purpose");
        expect("corrupt.jar", "the corrupt vendor jar dropped in on purpose; FileInstall cannot read it");
        expect("org.apache.felix.gogo.runtime.*Service factory returned null",
                "an admin command that began in the instant before the framework started stopping, reaching a command"
                        + " component already deactivated; commands that arrive once it is stopping are refused plainly");
        expect("LogService.org.apache.felix.metatype.*No bundle associated with resource",
                "Felix's metatype service reading a bundle uninstalled in the instant after the configuration bridge checked"
                        + " its state (a feature being uninstalled); the bridge skips bundles already going away, so this is rare");
    }

    private static void expect(String regex, String why) {
        EXPECTED.put(Pattern.compile(regex), why);
    }

    private final ChaosLab lab;
    private final Map<Daemon, Integer> seen = new HashMap<>();
    private final Map<String, Integer> expectedSeen = new LinkedHashMap<>();

    ChaosErrors(ChaosLab lab) {
        this.lab = lab;
        for (Daemon d : lab.daemons()) {
            seen.put(d, d.logText().length());
        }
    }

    /** Fails on any ERROR line since the last check that is not on the list. */
    void check(String where) {
        for (Daemon d : lab.daemons()) {
            String log = d.logText();
            int from = Math.min(seen.getOrDefault(d, 0), log.length());
            seen.put(d, log.length());
            for (String line : log.substring(from).lines().toList()) {
                if (!line.contains("\"level\":\"ERROR\"")) {
                    continue;
                }
                String why = null;
                for (Map.Entry<Pattern, String> e : EXPECTED.entrySet()) {
                    if (e.getKey().matcher(line).find()) {
                        why = e.getKey().pattern();
                        break;
                    }
                }
                if (why == null) {
                    throw new AssertionError(where + ": an ERROR line nobody reviewed, from " + lab.name(d) + ":\n"
                            + (line.length() > 4000 ? line.substring(0, 4000) + "..." : line));
                }
                expectedSeen.merge(why, 1, Integer::sum);
            }
        }
    }

    Map<String, Integer> expectedSeen() {
        return expectedSeen;
    }

    static List<String> reviewed() {
        return EXPECTED.entrySet().stream().map(e -> e.getKey().pattern() + ": " + e.getValue()).toList();
    }
}
