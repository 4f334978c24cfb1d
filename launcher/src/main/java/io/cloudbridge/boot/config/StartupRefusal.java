package io.cloudbridge.boot.config;

import java.util.List;
import java.util.Optional;

/**
 * How the kernel's configuration bridge tells the launcher that the first configuration failed its
 * components' schemas: a daemon must not come up quietly on defaults its operator did not choose.
 * The bridge records the problems and stops the framework; the launcher reports them and exits
 * with a configuration error.
 */
public final class StartupRefusal {
    /** Framework property: when "true", a refused first configuration stops the runtime. */
    public static final String STRICT = "cloudbridge.config.strictStart";
    private static volatile List<ConfigProblem> problems;
    private static volatile boolean starting;

    private StartupRefusal() {
    }

    /**
     * Whether the runtime is still starting: until the launcher has started every bundle and had
     * the configuration checked once more with every bundle's validators in place, a refusal stops
     * the start even if an earlier, partial check passed.
     */
    public static boolean starting() {
        return starting;
    }

    public static void starting(boolean value) {
        starting = value;
    }

    public static void record(List<ConfigProblem> refused) {
        problems = List.copyOf(refused);
    }

    public static Optional<List<ConfigProblem>> problems() {
        return Optional.ofNullable(problems);
    }
}
