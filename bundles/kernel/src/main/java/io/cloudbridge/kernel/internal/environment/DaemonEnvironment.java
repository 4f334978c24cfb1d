package io.cloudbridge.kernel.internal.environment;

import io.cloudbridge.api.runtime.RuntimeEnvironment;
import io.cloudbridge.boot.RuntimeProperties;
import io.cloudbridge.boot.config.SecretFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.function.UnaryOperator;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;

/**
 * The one reading of the launcher's framework properties ({@link RuntimeProperties}): the boot
 * layer's constants stay inside the kernel, and every other bundle asks this service. Where the
 * framework was started without the launcher (an embedding, an integration test), the home is the
 * working folder and the state folder {@code state} inside it.
 */
@Component(service = RuntimeEnvironment.class)
public final class DaemonEnvironment implements RuntimeEnvironment {
    private final Path home;
    private final String role;
    private final Path state;

    @Activate
    public DaemonEnvironment(BundleContext context) {
        this(context::getProperty);
    }

    /** From framework properties, by name. */
    public DaemonEnvironment(UnaryOperator<String> properties) {
        String h = properties.apply(RuntimeProperties.HOME);
        this.home = (h == null || h.isBlank() ? Path.of("") : Path.of(h)).toAbsolutePath().normalize();
        String r = properties.apply(RuntimeProperties.ROLE);
        this.role = r == null || r.isBlank() ? "embedded" : r;
        String s = properties.apply(RuntimeProperties.STATE);
        this.state = (s == null || s.isBlank() ? home.resolve("state") : Path.of(s)).toAbsolutePath().normalize();
    }

    @Override
    public Path home() {
        return home;
    }

    @Override
    public String role() {
        return role;
    }

    @Override
    public Path stateFolder() {
        return state;
    }

    @Override
    public Path stateFolder(String component) throws IOException {
        Path name = component == null || component.isBlank() ? null : Path.of(component).getFileName();
        if (name == null || component.startsWith(".") || !component.equals(name.toString())) {
            throw new IllegalArgumentException("a component's state folder is one plain name, not '" + component + "'");
        }
        Path folder = state.resolve(component);
        if (!Files.isDirectory(folder)) {
            try {
                Files.createDirectories(folder, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            } catch (UnsupportedOperationException notPosix) {
                Files.createDirectories(folder); // Windows: the folder inherits its parent's ACL
            }
        }
        return folder;
    }

    @Override
    public Path configuredPath(String path) {
        return home.resolve(path.trim()).normalize();
    }

    @Override
    public void writeSecret(Path file, String text) throws IOException {
        SecretFiles.writeOwnerOnly(file, text);
    }

    @Override
    public String toString() {
        return "home " + home + ", role " + role + ", state " + state;
    }
}
