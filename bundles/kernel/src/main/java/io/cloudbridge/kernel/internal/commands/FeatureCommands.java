package io.cloudbridge.kernel.internal.commands;

import io.cloudbridge.api.runtime.FeatureInfo;
import io.cloudbridge.api.runtime.FeatureOperationException;
import io.cloudbridge.api.runtime.FeatureService;
import java.util.List;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/** {@code feature:list|install|uninstall|reset}. */
@Component(service = FeatureCommands.class, property = {
    "osgi.command.scope=feature",
    "osgi.command.function=list",
    "osgi.command.function=install",
    "osgi.command.function=uninstall",
    "osgi.command.function=reset"
})
public final class FeatureCommands {
    @Reference
    private FeatureService features;

    public String list() {
        return table(features.features());
    }

    public String install(String name) throws FeatureOperationException {
        return describe("installed", features.install(name));
    }

    public String uninstall(String name) throws FeatureOperationException {
        return describe("uninstalled", features.uninstall(name));
    }

    public String reset() throws FeatureOperationException {
        return "runtime feature changes dropped; back to the configured features\n" + table(features.reset());
    }

    private static String describe(String verb, FeatureInfo f) {
        StringBuilder out = new StringBuilder("feature ").append(f.name()).append(' ').append(verb);
        if (f.installed() && !f.active()) {
            out.append(", but not active:");
            f.problems().forEach(p -> out.append("\n  ").append(p));
        }
        return out.append('\n').toString();
    }

    static String table(List<FeatureInfo> list) {
        StringBuilder out = new StringBuilder(String.format("%-20s %-12s %s%n", "FEATURE", "STATE", "DESCRIPTION"));
        for (FeatureInfo f : list) {
            String state = !f.installed() ? "available" : f.active() ? "active" : "degraded";
            out.append(String.format("%-20s %-12s %s%s%n", f.name(), state, f.description(), f.base() ? " (base)" : ""));
            f.problems().forEach(p -> out.append("    ").append(p).append('\n'));
        }
        return out.toString();
    }
}
