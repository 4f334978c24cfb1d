package io.cloudbridge.boot.feature;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;

/**
 * The features a distribution offers ({@code features/*.yaml}) and the bundle jars they name
 * ({@code bundles/*.jar}, found by symbolic name so that jar file names carry no meaning).
 * The launcher uses it at boot and the kernel's feature manager at run time: one reading of the
 * same files.
 */
public final class FeatureCatalog {
    private final Map<String, FeatureDefinition> features;
    private final Map<String, BundleJar> bundles;
    private final List<String> warnings;

    private FeatureCatalog(Map<String, FeatureDefinition> features, Map<String, BundleJar> bundles,
            List<String> warnings) {
        this.features = features;
        this.bundles = bundles;
        this.warnings = List.copyOf(warnings);
    }

    /** The last catalog read, with the folder listing it was read from. */
    private static volatile Object[] cached;

    /**
     * The catalog of these folders. The launcher, the feature manager and the validator all ask at
     * start; the jars are read once and again only when a file in either folder changed.
     */
    public static FeatureCatalog load(Path featuresDir, Path bundlesDir) throws FeatureException {
        String fingerprint = fingerprint(featuresDir) + "|" + fingerprint(bundlesDir);
        Object[] c = cached;
        if (c != null && c[0].equals(fingerprint)) {
            return (FeatureCatalog) c[1];
        }
        FeatureCatalog catalog = read(featuresDir, bundlesDir);
        cached = new Object[] {fingerprint, catalog};
        return catalog;
    }

    /** Names, sizes and modification times of a folder's files: cheap next to opening every jar. */
    private static String fingerprint(Path dir) {
        StringBuilder sb = new StringBuilder(dir.toAbsolutePath().toString());
        try (java.util.stream.Stream<Path> files = Files.list(dir)) {
            files.sorted().forEach(f -> {
                try {
                    sb.append(';').append(f.getFileName()).append(',').append(Files.size(f)).append(',')
                            .append(Files.getLastModifiedTime(f).toMillis());
                } catch (IOException e) {
                    sb.append(";?");
                }
            });
        } catch (IOException e) {
            sb.append(";unreadable");
        }
        return sb.toString();
    }

    private static FeatureCatalog read(Path featuresDir, Path bundlesDir) throws FeatureException {
        Map<String, FeatureDefinition> features = new TreeMap<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(featuresDir, "*.yaml")) {
            for (Path file : files) {
                FeatureDefinition def = readFeature(file);
                features.put(def.name(), def);
            }
        } catch (IOException e) {
            throw new FeatureException("cannot read the features folder " + featuresDir + ": " + e, e);
        }
        Map<String, BundleJar> bundles = new LinkedHashMap<>();
        List<String> warnings = new ArrayList<>();
        try (DirectoryStream<Path> jars = Files.newDirectoryStream(bundlesDir, "*.jar")) {
            for (Path jar : jars) {
                BundleJar bundle;
                try {
                    bundle = readBundle(jar);
                } catch (IOException unreadable) {
                    // One damaged jar must not stop the runtime; a feature that needs it fails below.
                    warnings.add("skipped unreadable bundle " + jar.getFileName() + ": " + unreadable.getMessage());
                    continue;
                }
                if (bundle != null) {
                    bundles.merge(bundle.symbolicName(), bundle,
                            (a, b) -> compareVersions(a.version(), b.version()) >= 0 ? a : b);
                }
            }
        } catch (IOException e) {
            throw new FeatureException("cannot read the bundles folder " + bundlesDir + ": " + e, e);
        }
        FeatureCatalog catalog = new FeatureCatalog(features, bundles, warnings);
        catalog.checkComplete();
        return catalog;
    }

    private void checkComplete() throws FeatureException {
        for (FeatureDefinition def : features.values()) {
            if (def.base() && !def.platforms().isEmpty()) {
                // A base feature is always installed: one that could be left out would break that promise.
                throw new FeatureException("feature '" + def.name() + "' is a base feature and cannot be limited to platforms");
            }
            for (String required : def.requires()) {
                if (!features.containsKey(required)) {
                    throw new FeatureException("feature '" + def.name() + "' requires unknown feature '" + required + "'");
                }
            }
            for (String bsn : def.bundles()) {
                if (!bundles.containsKey(bsn)) {
                    throw new FeatureException("feature '" + def.name() + "' names bundle '" + bsn
                            + "', which is not in the bundles folder");
                }
            }
        }
    }

    static FeatureDefinition readFeature(Path file) throws FeatureException {
        String fileName = file.getFileName().toString();
        String name = fileName.substring(0, fileName.length() - ".yaml".length());
        try (InputStream in = Files.newInputStream(file)) {
            return readFeature(name, file.toString(), in);
        } catch (IOException e) {
            throw new FeatureException("feature file " + file + " cannot be read: " + e.getMessage(), e);
        }
    }

    /** Parses one feature file's YAML; {@code where} names the file in errors. */
    static FeatureDefinition readFeature(String name, String where, InputStream in) throws FeatureException {
        Object doc;
        try {
            doc = new Load(LoadSettings.builder().setLabel(where).build()).loadFromInputStream(in);
        } catch (YamlEngineException | IllegalArgumentException e) {
            // IllegalArgumentException: the engine's word for some broken constructs (a tag "!%2").
            throw new FeatureException("feature file " + where + " cannot be read: " + e.getMessage(), e);
        } catch (StackOverflowError deep) {
            // The loader recurses per level of nesting; a broken file can nest deeper than the stack.
            throw new FeatureException("feature file " + where + " cannot be read: nested too deeply");
        } catch (RuntimeException e) {
            // The engine's own faults on input it should refuse (its reader once ran past its buffer's end).
            throw new FeatureException("feature file " + where + " cannot be read: the YAML parser failed on it (" + e + ")", e);
        }
        if (!(doc instanceof Map<?, ?> map)) {
            throw new FeatureException("feature file " + where + " must be a map");
        }
        Object description = map.get("description");
        if (!isPlain(description)) {
            throw new FeatureException("feature file " + where + ": 'description' must be text");
        }
        Object base = map.get("base");
        return new FeatureDefinition(name, description == null ? "" : description.toString(),
                Boolean.TRUE.equals(base), strings(where, map.get("requires")), strings(where, map.get("bundles")),
                strings(where, map.get("platforms")));
    }

    /**
     * A scalar, not a list or map: YAML aliases can make a collection hold itself, through a map
     * ({@code a: &x [k: *x]}), and turning that into text recurses until the stack runs out.
     */
    private static boolean isPlain(Object value) {
        return !(value instanceof Map<?, ?> || value instanceof Collection<?>);
    }

    private static List<String> strings(String file, Object value) throws FeatureException {
        if (value == null) {
            return List.of();
        }
        if (!(value instanceof List<?> list)) {
            throw new FeatureException("feature file " + file + ": 'requires', 'bundles' and 'platforms' must be lists");
        }
        if (!list.stream().allMatch(FeatureCatalog::isPlain)) {
            throw new FeatureException("feature file " + file + ": 'requires', 'bundles' and 'platforms' must be lists of names");
        }
        return list.stream().map(String::valueOf).toList();
    }

    static BundleJar readBundle(Path jar) throws IOException {
        try (JarFile jarFile = new JarFile(jar.toFile(), false)) {
            Manifest manifest = jarFile.getManifest();
            if (manifest == null) {
                return null;
            }
            Attributes main = manifest.getMainAttributes();
            String bsn = main.getValue("Bundle-SymbolicName");
            if (bsn == null) {
                return null;
            }
            int semicolon = bsn.indexOf(';');
            String name = (semicolon < 0 ? bsn : bsn.substring(0, semicolon)).trim();
            String version = main.getValue("Bundle-Version");
            return new BundleJar(name, version == null ? "0.0.0" : version.trim(), jar,
                    main.getValue("Fragment-Host") != null);
        }
    }

    /** Compares OSGi versions numerically by major, minor and micro, then by qualifier text. */
    static int compareVersions(String a, String b) {
        String[] pa = a.split("\\.", 4);
        String[] pb = b.split("\\.", 4);
        for (int i = 0; i < 3; i++) {
            int c = Long.compare(number(pa, i), number(pb, i));
            if (c != 0) {
                return c;
            }
        }
        return (pa.length > 3 ? pa[3] : "").compareTo(pb.length > 3 ? pb[3] : "");
    }

    private static long number(String[] parts, int i) {
        try {
            return i < parts.length ? Long.parseLong(parts[i]) : 0;
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** Jars that were skipped, and why. */
    public List<String> warnings() {
        return warnings;
    }

    public Map<String, FeatureDefinition> features() {
        return features;
    }

    public FeatureDefinition feature(String name) throws FeatureException {
        FeatureDefinition def = features.get(name);
        if (def == null) {
            throw new FeatureException("no feature named '" + name + "'; known: " + String.join(", ", features.keySet()));
        }
        return def;
    }

    public Map<String, BundleJar> bundles() {
        return bundles;
    }

    /** Names of the base features, which are always installed. */
    public Set<String> baseFeatures() {
        Set<String> base = new LinkedHashSet<>();
        features.values().stream().filter(FeatureDefinition::base).forEach(f -> base.add(f.name()));
        return base;
    }

    /** The features named plus everything they require, dependencies first. */
    public List<String> closure(Collection<String> names) throws FeatureException {
        LinkedHashSet<String> ordered = new LinkedHashSet<>();
        for (String name : names) {
            visit(name, ordered, new LinkedHashSet<>());
        }
        return new ArrayList<>(ordered);
    }

    private void visit(String name, Set<String> ordered, Set<String> path) throws FeatureException {
        if (ordered.contains(name)) {
            return;
        }
        if (!path.add(name)) {
            throw new FeatureException("features require each other in a cycle: " + String.join(" -> ", path) + " -> " + name);
        }
        for (String required : feature(name).requires()) {
            visit(required, ordered, path);
        }
        path.remove(name);
        ordered.add(name);
    }

    /** The bundles of the given features, each once, in feature then declaration order. */
    public List<BundleJar> bundlesOf(Collection<String> featureNames) throws FeatureException {
        LinkedHashSet<BundleJar> out = new LinkedHashSet<>();
        for (String name : featureNames) {
            for (String bsn : feature(name).bundles()) {
                out.add(bundles.get(bsn));
            }
        }
        return new ArrayList<>(out);
    }

    /**
     * The features to run: the base features, the configured ones, and the runtime changes recorded
     * in the state, closed over {@code requires}. A runtime uninstall removes a configured feature,
     * but never a base one or one that another remaining feature requires.
     */
    public List<String> effective(Collection<String> configured, FeatureState state) throws FeatureException {
        return effective(configured, state, Platform.current());
    }

    /**
     * As {@link #effective(Collection, FeatureState)}, on {@code platform}: a feature that does not
     * run there is left out, with every feature that requires it (see {@link #notRunningOn}).
     */
    public List<String> effective(Collection<String> configured, FeatureState state, String platform) throws FeatureException {
        LinkedHashSet<String> wanted = new LinkedHashSet<>(baseFeatures());
        for (String name : configured) {
            feature(name);
            wanted.add(name);
        }
        wanted.addAll(state.added().stream().filter(features::containsKey).toList());
        wanted.removeAll(state.removed());
        wanted.addAll(baseFeatures());
        List<String> all = closure(wanted);
        List<String> out = new ArrayList<>();
        for (String name : all) {
            if (notRunningOn(name, platform).isEmpty()) {
                out.add(name);
            }
        }
        return out;
    }

    /**
     * Why a feature does not run on {@code platform}: the feature (itself or one it requires) that
     * names other platforms, and which; empty when it runs there.
     */
    public java.util.Optional<String> notRunningOn(String name, String platform) throws FeatureException {
        for (String needed : closure(List.of(name))) {
            FeatureDefinition def = feature(needed);
            if (!def.runsOn(platform)) {
                return java.util.Optional.of("feature '" + needed + "' runs on " + String.join(", ", def.platforms())
                        + " only (its native library has no build for " + platform + " in this distribution)");
            }
        }
        return java.util.Optional.empty();
    }
}
