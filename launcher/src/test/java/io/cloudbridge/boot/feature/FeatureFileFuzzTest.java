package io.cloudbridge.boot.feature;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.ByteArrayInputStream;

/**
 * Fuzz target for feature files ({@code features/*.yaml}), which operators and vendors write:
 * a definition or a {@link FeatureException} with the file named; nothing else may escape (the
 * launcher reads every feature file at start, and one bad file must not stop it with a crash).
 */
class FeatureFileFuzzTest {

    @FuzzTest
    void featureFile(byte[] data) {
        FeatureDefinition def;
        try {
            def = FeatureCatalog.readFeature("fuzzed", "features/fuzzed.yaml", new ByteArrayInputStream(data));
        } catch (FeatureException e) {
            assertNotNull(e.getMessage());
            return;
        }
        assertEquals("fuzzed", def.name());
        assertNotNull(def.description());
        def.requires().forEach(r -> assertNotNull(r));
        def.bundles().forEach(b -> assertNotNull(b));
    }
}
