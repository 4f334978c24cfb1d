package io.cloudbridge.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The bundle's merged provider lists must name exactly what the upstream gRPC jars' own
 * META-INF/services files name: an upgrade that adds or drops a provider fails here, not at run
 * time inside the framework.
 */
class MergedServiceFilesTest {
    private static final List<String> SERVICES = List.of("io.grpc.ManagedChannelProvider", "io.grpc.ServerProvider",
            "io.grpc.NameResolverProvider", "io.grpc.LoadBalancerProvider");

    @Test
    void mergedFilesListEveryUpstreamProvider() throws IOException {
        for (String service : SERVICES) {
            Set<String> upstream = new TreeSet<>();
            for (URL url : Collections.list(getClass().getClassLoader().getResources("META-INF/services/" + service))) {
                if (url.getProtocol().equals("jar")) { // the upstream jars; our own copy is a plain file
                    upstream.addAll(providers(url.openStream()));
                }
            }
            Set<String> merged = new TreeSet<>(providers(Files.newInputStream(Path.of("src/main/resources/META-INF/services", service))));
            assertEquals(upstream, merged, service);
        }
    }

    private static Set<String> providers(InputStream in) throws IOException {
        Set<String> out = new TreeSet<>();
        try (in) {
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                String name = line.replaceAll("#.*", "").trim();
                if (!name.isEmpty()) {
                    out.add(name);
                }
            }
        }
        return out;
    }
}
