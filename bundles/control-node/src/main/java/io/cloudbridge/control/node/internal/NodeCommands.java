package io.cloudbridge.control.node.internal;

import java.io.IOException;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/** {@code cb:whoami} (this node as the relay knows it) and {@code cb:peers} (its tenant's other nodes). */
@Component(service = NodeCommands.class, property = {
    "osgi.command.scope=cb",
    "osgi.command.function=whoami",
    "osgi.command.function=peers"
})
public final class NodeCommands {
    @Reference
    private NodeControlClient control;

    public String whoami() throws IOException {
        return control.whoami();
    }

    public String peers() {
        return control.peerTable();
    }
}
