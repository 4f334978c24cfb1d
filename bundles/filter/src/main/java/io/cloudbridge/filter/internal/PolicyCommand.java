package io.cloudbridge.filter.internal;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * {@code cb:policy}: the filter in force (its policy version, each rule with the new flows it
 * decided and the flows it keeps open), the drops by reason, and the connection-tracking table.
 */
@Component(service = PolicyCommand.class, property = {"osgi.command.scope=cb", "osgi.command.function=policy"})
public final class PolicyCommand {
    private final NodeFilterService filter;

    @Activate
    public PolicyCommand(@Reference(name = "filter") NodeFilterService filter) {
        this.filter = filter;
    }

    public String policy() {
        return String.join("\n", filter.describe()) + "\n";
    }
}
