package io.cloudbridge.mesh.internal;

import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/** {@code cb:paths}: which transport carries the peers, and each transport's session. */
@Component(service = PathCommands.class, property = {
    "osgi.command.scope=cb",
    "osgi.command.function=paths"
})
public final class PathCommands {
    @Reference
    private RelayPaths paths;

    public String paths() {
        return String.join("\n", paths.describe()) + "\n";
    }
}
