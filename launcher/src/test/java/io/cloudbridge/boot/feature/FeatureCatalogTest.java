package io.cloudbridge.boot.feature;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FeatureCatalogTest {
    @TempDir
    Path dir;
    Path features;
    Path bundles;

    @BeforeEach
    void distribution() throws Exception {
        features = Files.createDirectories(dir.resolve("features"));
        bundles = Files.createDirectories(dir.resolve("bundles"));
        jar("a-1.0.jar", "org.example.a;singleton:=true", "1.0.0", null);
        jar("a-2.0.jar", "org.example.a", "2.0.0", null);
        jar("b.jar", "org.example.b", "1.0.0", null);
        jar("frag.jar", "org.example.frag", "1.0.0", "org.example.a");
        jar("c.jar", "org.example.c", "1.0.0", null);
        Files.writeString(dir.resolve("bundles/not-a-bundle.jar"), "");
        Files.writeString(features.resolve("core.yaml"), "description: base\nbase: true\nbundles: [org.example.a, org.example.frag]\n");
        Files.writeString(features.resolve("extra.yaml"), "requires: [core]\nbundles: [org.example.b]\n");
        Files.writeString(features.resolve("top.yaml"), "requires: [extra]\nbundles: [org.example.c]\n");
    }

    private void jar(String name, String bsn, String version, String host) throws Exception {
        Manifest m = new Manifest();
        Attributes a = m.getMainAttributes();
        a.put(Attributes.Name.MANIFEST_VERSION, "1.0");
        a.putValue("Bundle-SymbolicName", bsn);
        a.putValue("Bundle-Version", version);
        if (host != null) {
            a.putValue("Fragment-Host", host);
        }
        try (OutputStream out = Files.newOutputStream(bundles.resolve(name)); JarOutputStream j = new JarOutputStream(out, m)) {
            j.flush();
        }
    }

    @Test
    void findsBundlesBySymbolicNameTakingTheNewestVersion() throws Exception {
        FeatureCatalog c = FeatureCatalog.load(features, bundles);
        assertEquals("2.0.0", c.bundles().get("org.example.a").version());
        assertTrue(c.bundles().get("org.example.frag").fragment());
        assertFalse(c.bundles().containsKey("not-a-bundle"));
        assertEquals(1, c.warnings().size());
        assertTrue(c.warnings().get(0).contains("not-a-bundle.jar"), c.warnings().toString());
        assertTrue(c.bundles().get("org.example.b").location().startsWith("reference:file:"));
    }

    @Test
    void effectiveFeaturesCombineBaseConfiguredAndRuntimeChanges() throws Exception {
        FeatureCatalog c = FeatureCatalog.load(features, bundles);
        assertEquals(List.of("core"), c.effective(List.of(), FeatureState.empty()));
        assertEquals(List.of("core", "extra", "top"), c.effective(List.of("top"), FeatureState.empty()));
        FeatureState removedExtra = FeatureState.empty().withUninstalled("extra", true);
        assertEquals(List.of("core"), c.effective(List.of("extra"), removedExtra));
        FeatureState removedCore = FeatureState.empty().withUninstalled("core", true);
        assertEquals(List.of("core"), c.effective(List.of(), removedCore), "a base feature always stays");
        FeatureState addedTop = FeatureState.empty().withInstalled("top", false);
        assertEquals(List.of("core", "extra", "top"), c.effective(List.of(), addedTop));
        assertEquals(List.of("org.example.a", "org.example.frag", "org.example.b"),
                c.bundlesOf(List.of("core", "extra")).stream().map(BundleJar::symbolicName).toList());
    }

    @Test
    void unknownFeaturesAndBundlesAndCyclesAreErrors() throws Exception {
        FeatureCatalog c = FeatureCatalog.load(features, bundles);
        FeatureException unknown = assertThrows(FeatureException.class, () -> c.effective(List.of("nope"), FeatureState.empty()));
        assertTrue(unknown.getMessage().contains("no feature named 'nope'"));
        Files.writeString(features.resolve("broken.yaml"), "bundles: [org.example.missing]\n");
        FeatureException missing = assertThrows(FeatureException.class, () -> FeatureCatalog.load(features, bundles));
        assertTrue(missing.getMessage().contains("org.example.missing"));
        Files.writeString(features.resolve("broken.yaml"), "requires: [loop]\n");
        Files.writeString(features.resolve("loop.yaml"), "requires: [broken]\n");
        FeatureCatalog looped = FeatureCatalog.load(features, bundles);
        FeatureException cycle = assertThrows(FeatureException.class, () -> looped.closure(List.of("loop")));
        assertTrue(cycle.getMessage().contains("cycle"));
        Files.writeString(features.resolve("loop.yaml"), "- not a map\n");
        assertThrows(FeatureException.class, () -> FeatureCatalog.load(features, bundles));
    }

    @Test
    void stateRoundTripsAndRefusesGarbage() throws Exception {
        Path state = dir.resolve("state");
        FeatureState s = FeatureState.empty().withInstalled("top", false).withUninstalled("extra", true);
        s.write(state);
        FeatureState read = FeatureState.read(state);
        assertEquals(Set.of("top"), read.added());
        assertEquals(Set.of("extra"), read.removed());
        FeatureState.empty().write(state);
        assertFalse(Files.exists(state.resolve(FeatureState.FILE_NAME)), "an empty state leaves no file");
        Files.writeString(state.resolve(FeatureState.FILE_NAME), "+ok\n*bad\n");
        FeatureException e = assertThrows(FeatureException.class, () -> FeatureState.read(state));
        assertTrue(e.getMessage().contains(":2:"), e.getMessage());
    }

    @Test
    void reinstallingAConfiguredFeatureOnlyCancelsItsUninstall() {
        FeatureState s = FeatureState.empty().withUninstalled("shell", true).withInstalled("shell", true);
        assertTrue(s.added().isEmpty());
        assertTrue(s.removed().isEmpty());
    }

    @Test
    void versionsCompareNumerically() {
        assertTrue(FeatureCatalog.compareVersions("1.10.0", "1.9.0") > 0);
        assertTrue(FeatureCatalog.compareVersions("1.0.0.b", "1.0.0.a") > 0);
        assertEquals(0, FeatureCatalog.compareVersions("1", "1.0.0"));
    }

    /** A feature limited to some platforms is left out elsewhere, with the features that require it, saying why. */
    @Test
    void aFeatureForOtherPlatformsIsLeftOutWithThoseThatRequireIt() throws Exception {
        Files.writeString(features.resolve("extra.yaml"),
                "requires: [core]\nplatforms: [linux-x86_64, linux-aarch_64]\nbundles: [org.example.b]\n");
        FeatureCatalog c = FeatureCatalog.load(features, bundles);
        assertEquals(List.of("core", "extra", "top"), c.effective(List.of("top"), FeatureState.empty(), "linux-aarch_64"));
        assertEquals(List.of("core"), c.effective(List.of("top"), FeatureState.empty(), "linux-x86_32"));
        String why = c.notRunningOn("top", "linux-x86_32").orElseThrow();
        assertTrue(why.contains("'extra' runs on linux-x86_64, linux-aarch_64 only") && why.contains("linux-x86_32"), why);
        assertTrue(c.notRunningOn("core", "linux-x86_32").isEmpty());
        Files.writeString(features.resolve("extra.yaml"), "requires: [core]\nplatforms: linux-x86_64\nbundles: [org.example.b]\n");
        FeatureException notAList = assertThrows(FeatureException.class, () -> FeatureCatalog.load(features, bundles));
        assertTrue(notAList.getMessage().contains("'platforms' must be lists"), notAList.getMessage());
    }

    /** A base feature is always installed: limiting it to platforms is refused when the catalog is read. */
    @Test
    void aBaseFeatureCannotBeLimitedToPlatforms() throws Exception {
        Files.writeString(features.resolve("core.yaml"),
                "base: true\nplatforms: [linux-x86_64]\nbundles: [org.example.a, org.example.frag]\n");
        FeatureException refused = assertThrows(FeatureException.class, () -> FeatureCatalog.load(features, bundles));
        assertTrue(refused.getMessage().contains("'core' is a base feature and cannot be limited to platforms"), refused.getMessage());
    }

    @Test
    void namesPlatformsAsTheNativeJarsDo() {
        assertEquals("linux-x86_64", Platform.of("Linux", "amd64"));
        assertEquals("linux-aarch_64", Platform.of("Linux", "aarch64"));
        assertEquals("linux-x86_32", Platform.of("Linux", "i386"));
        assertEquals("osx-aarch_64", Platform.of("Mac OS X", "aarch64"));
        assertEquals("windows-x86_64", Platform.of("Windows 11", "amd64"));
    }
}
