package io.cloudbridge.auth.oidc.internal;

import java.io.IOException;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

/**
 * {@code cb:login}: starts a device sign-in and shows where to approve it (URL, code, QR code); the
 * node goes on polling by itself, and registers once approved ({@code cb:whoami} follows it).
 * {@code cb:login status} tells how the last one went.
 */
@Component(service = LoginCommand.class, property = {"osgi.command.scope=cb", "osgi.command.function=login"})
public final class LoginCommand {
    @Reference
    private OidcTokenProvider provider;

    public String login() throws IOException {
        OidcTokenProvider.DeviceLogin l = provider.startLogin();
        return "To sign this node in, open\n\n    " + l.verificationUri() + "\n\nand enter the code\n\n    " + l.userCode()
                + "\n\nor scan:\n\n" + TerminalQr.render(l.verificationUriComplete())
                + "\nThe code is good until " + l.expires() + ". This node waits for the approval by itself;"
                + " 'cb:login status' and 'cb:whoami' tell how it goes.\n";
    }

    public String login(String what) {
        if (!"status".equals(what)) {
            return "usage: cb:login | cb:login status\n";
        }
        OidcTokenProvider.DeviceLogin l = provider.currentLogin();
        if (l == null) {
            return "no sign-in started\n";
        }
        if (!l.outcome().isDone()) {
            return "waiting for approval of code " + l.userCode() + " (until " + l.expires() + ")\n";
        }
        return l.outcome().handle((token, failure) -> failure == null ? "signed in\n"
                : "not signed in: " + (failure.getCause() != null ? failure.getCause().getMessage() : failure.getMessage()) + "\n")
                .join();
    }
}
