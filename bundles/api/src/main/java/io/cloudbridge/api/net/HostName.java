package io.cloudbridge.api.net;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * This machine's own name, as the kernel knows it, without a DNS lookup. {@code
 * InetAddress.getLocalHost()} resolves the name and throws where it does not resolve (cloud images
 * and containers whose name is not in {@code /etc/hosts}), which stopped relays and nodes there.
 */
public final class HostName {
    private static final Path LINUX_KERNEL_NAME = Path.of("/proc/sys/kernel/hostname");

    private HostName() {
    }

    /** The machine's name; {@code localhost} when the system names none. */
    public static String ofThisMachine() {
        return of(LINUX_KERNEL_NAME, System.getenv());
    }

    /**
     * The name from the kernel's file (Linux), else the environment (Windows sets {@code
     * COMPUTERNAME}, shells export {@code HOSTNAME}), else the resolver's local name where it
     * resolves.
     */
    static String of(Path kernelName, Map<String, String> env) {
        try {
            if (Files.isReadable(kernelName)) {
                String name = Files.readString(kernelName, StandardCharsets.UTF_8).trim();
                if (!name.isEmpty()) {
                    return name;
                }
            }
        } catch (IOException e) {
            // fall through to the other sources
        }
        for (String variable : new String[] {"COMPUTERNAME", "HOSTNAME"}) {
            String name = env.get(variable);
            if (name != null && !name.isBlank()) {
                return name.trim();
            }
        }
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }
}
