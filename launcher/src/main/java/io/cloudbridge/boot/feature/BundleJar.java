package io.cloudbridge.boot.feature;

import java.nio.file.Path;

/**
 * A bundle jar of the distribution.
 *
 * @param symbolicName its Bundle-SymbolicName, without directives
 * @param version      its Bundle-Version
 * @param path         where it lies
 * @param fragment     whether it is a fragment (installed, never started)
 */
public record BundleJar(String symbolicName, String version, Path path, boolean fragment) {

    /** The location the bundle is installed from: by reference, so the framework does not copy it. */
    public String location() {
        return "reference:" + path.toAbsolutePath().normalize().toUri();
    }
}
