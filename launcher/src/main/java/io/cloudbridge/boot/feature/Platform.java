package io.cloudbridge.boot.feature;

import java.util.Locale;

/**
 * The platform a feature may be limited to, named as Netty names its native jars' classifiers
 * ({@code linux-x86_64}, {@code linux-aarch_64}, {@code linux-x86_32}, {@code osx-aarch_64},
 * {@code windows-x86_64}): a feature that needs a native library lists the platforms the
 * distribution carries one for.
 */
public final class Platform {
    private Platform() {
    }

    /** This JVM's platform. */
    public static String current() {
        return of(System.getProperty("os.name", ""), System.getProperty("os.arch", ""));
    }

    /** The platform of an {@code os.name} and {@code os.arch}. */
    static String of(String osName, String osArch) {
        String os = osName.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "");
        if (os.startsWith("linux")) {
            os = "linux";
        } else if (os.startsWith("macosx") || os.startsWith("osx") || os.startsWith("darwin")) {
            os = "osx";
        } else if (os.startsWith("windows")) {
            os = "windows";
        }
        String arch = osArch.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9_]+", "");
        arch = switch (arch) {
            case "amd64", "x86_64", "x8664", "em64t" -> "x86_64";
            case "aarch64", "arm64" -> "aarch_64";
            case "x86", "i386", "i486", "i586", "i686", "x86_32", "ia32" -> "x86_32";
            default -> arch;
        };
        return os + "-" + arch;
    }
}
