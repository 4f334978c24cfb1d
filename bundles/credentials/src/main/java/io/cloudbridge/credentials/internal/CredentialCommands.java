package io.cloudbridge.credentials.internal;

import io.cloudbridge.api.auth.CredentialStore;
import java.io.IOException;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/** {@code cb:credentials}: which store holds the node's secrets, why, and how many; never a secret. */
@Component(service = CredentialCommands.class, property = {
    "osgi.command.scope=cb",
    "osgi.command.function=credentials"
})
public final class CredentialCommands {
    // The component itself, not any CredentialStore: only this bundle's knows why it chose its store.
    @Reference(target = "(component.name=io.cloudbridge.credentials.internal.CredentialStoreComponent)")
    private CredentialStore store;

    public String credentials() throws IOException {
        CredentialStoreComponent c = (CredentialStoreComponent) store;
        CredentialStoreComponent.Selection s = c.selection();
        StringBuilder out = new StringBuilder();
        row(out, "backend", s.store().backend());
        row(out, "why", s.why());
        if (s.keyring()) {
            // A keyring cannot be listed by application, so the count is what this daemon has handled.
            row(out, "entries", c.knownEntries() + " (stored or read since start)");
            int left = s.files().count();
            if (left > 0) {
                row(out, "in files", left + " in " + s.files().folder() + " (move into the keyring when read)");
            }
        } else {
            row(out, "folder", s.files().folder().toString());
            row(out, "entries", Integer.toString(s.files().count()));
        }
        return out.toString();
    }

    private static void row(StringBuilder out, String name, String value) {
        out.append(name).append(':').append(" ".repeat(Math.max(1, 10 - name.length()))).append(value).append('\n');
    }
}
