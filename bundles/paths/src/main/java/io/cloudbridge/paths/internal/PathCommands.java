package io.cloudbridge.paths.internal;

import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * {@code cb:paths} (which transport carries the peers), {@code cb:relays} (the home relay and
 * where its transports listen) and {@code transport:list} (each transport's session: state, RTT,
 * MTU, packets and bytes both ways, drops).
 */
@Component(service = PathCommands.class, property = {
    "osgi.command.scope=cb",
    "osgi.command.function=paths",
    "osgi.command.function=relays"
})
public final class PathCommands {
    @Reference
    private RelayPaths paths;

    public String paths() {
        return String.join("\n", paths.describe()) + "\n";
    }

    public String relays() {
        return String.join("\n", paths.relayTable()) + "\n";
    }

    /** {@code transport:list}, in its own scope as operators look for it there. */
    @Component(service = TransportCommands.class, property = {
        "osgi.command.scope=transport",
        "osgi.command.function=list"
    })
    public static final class TransportCommands {
        @Reference
        private RelayPaths paths;

        public String list() {
            return String.join("\n", paths.transportTable()) + "\n";
        }
    }
}
