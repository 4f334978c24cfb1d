package io.cloudbridge.boot.feature;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The feature changes an operator made at run time ({@code feature:install}, {@code
 * feature:uninstall}), kept in the state folder so that they outlive a restart and are applied on
 * top of the configured features. {@code feature:reset} deletes it.
 *
 * <p>File format, one change a line: {@code +name} installed, {@code -name} uninstalled.
 */
public final class FeatureState {
    public static final String FILE_NAME = "features.state";
    private final Set<String> added;
    private final Set<String> removed;

    public FeatureState(Set<String> added, Set<String> removed) {
        this.added = Collections.unmodifiableSet(new TreeSet<>(added));
        this.removed = Collections.unmodifiableSet(new TreeSet<>(removed));
    }

    public static FeatureState empty() {
        return new FeatureState(Set.of(), Set.of());
    }

    public Set<String> added() {
        return added;
    }

    public Set<String> removed() {
        return removed;
    }

    /**
     * The state after installing {@code name}: re-installing a configured feature only cancels its
     * earlier uninstall, so the state holds nothing the configuration already says.
     */
    public FeatureState withInstalled(String name, boolean configured) {
        Set<String> a = new TreeSet<>(added);
        Set<String> r = new TreeSet<>(removed);
        r.remove(name);
        if (!configured) {
            a.add(name);
        }
        return new FeatureState(a, r);
    }

    /** The state after uninstalling {@code name}; the counterpart of {@link #withInstalled}. */
    public FeatureState withUninstalled(String name, boolean configured) {
        Set<String> a = new TreeSet<>(added);
        Set<String> r = new TreeSet<>(removed);
        a.remove(name);
        if (configured) {
            r.add(name);
        }
        return new FeatureState(a, r);
    }

    public static FeatureState read(Path stateDir) throws FeatureException {
        Path file = stateDir.resolve(FILE_NAME);
        if (!Files.exists(file)) {
            return empty();
        }
        Set<String> a = new TreeSet<>();
        Set<String> r = new TreeSet<>();
        try {
            int lineNo = 0;
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                lineNo++;
                String t = line.trim();
                if (t.isEmpty() || t.startsWith("#")) {
                    continue;
                }
                String name = t.substring(1).trim();
                if (t.charAt(0) == '+' && !name.isEmpty()) {
                    a.add(name);
                } else if (t.charAt(0) == '-' && !name.isEmpty()) {
                    r.add(name);
                } else {
                    throw new FeatureException(file + ":" + lineNo + ": expected '+feature' or '-feature'");
                }
            }
        } catch (IOException e) {
            throw new FeatureException("cannot read " + file + ": " + e, e);
        }
        return new FeatureState(a, r);
    }

    /** Writes the state atomically (a crash leaves the old file or the new one, never half). */
    public void write(Path stateDir) throws IOException {
        Path file = stateDir.resolve(FILE_NAME);
        if (added.isEmpty() && removed.isEmpty()) {
            Files.deleteIfExists(file);
            return;
        }
        List<String> lines = new ArrayList<>();
        lines.add("# Feature changes made at run time; 'feature:reset' removes this file.");
        added.forEach(n -> lines.add("+" + n));
        removed.forEach(n -> lines.add("-" + n));
        Files.createDirectories(stateDir);
        Path tmp = Files.createTempFile(stateDir, FILE_NAME, ".tmp");
        Files.write(tmp, lines, StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    public static void delete(Path stateDir) throws IOException {
        Files.deleteIfExists(stateDir.resolve(FILE_NAME));
    }
}
