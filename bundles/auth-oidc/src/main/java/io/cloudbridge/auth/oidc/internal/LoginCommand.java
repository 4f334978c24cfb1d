package io.cloudbridge.auth.oidc.internal;

import java.io.IOException;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

/**
 * {@code cb:login}: starts a device sign-in and shows where to approve it (URL, code, QR code); the
 * node goes on polling by itself, and registers once approved ({@code cb:whoami} follows it).
 * {@code cb:login status} tells how the last one went; {@code cb:login wait} returns when it is over.
 */
@Component(service = LoginCommand.class, property = {"osgi.command.scope=cb", "osgi.command.function=login"})
public final class LoginCommand {
    /**
     * Optional: without an {@code oidc} section the provider does not exist, and the command says
     * so instead of vanishing (which also made every node and relay without OIDC report a
     * missing reference in its status).
     */
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile OidcTokenProvider provider;

    private OidcTokenProvider provider() {
        OidcTokenProvider p = provider;
        if (p == null) {
            throw new IllegalStateException("OpenID Connect sign-in is not configured: set the section 'oidc'"
                    + " (issuer, clientId) in the configuration file");
        }
        return p;
    }

    public String login() throws IOException {
        OidcTokenProvider.DeviceLogin l = provider().startLogin();
        return "To sign this node in, open\n\n    " + l.verificationUri() + "\n\nand enter the code\n\n    " + l.userCode()
                + "\n\nor scan:\n\n" + TerminalQr.render(l.verificationUriComplete())
                + "\nThe code is good until " + l.expires() + ". This node waits for the approval by itself;"
                + " 'cb:login status' and 'cb:whoami' tell how it goes.\n";
    }

    public String login(String what) {
        if (!"status".equals(what) && !"wait".equals(what)) {
            return "usage: cb:login | cb:login status | cb:login wait\n";
        }
        OidcTokenProvider.DeviceLogin l = provider().currentLogin();
        if (l == null) {
            return "no sign-in started\n";
        }
        if ("wait".equals(what)) {
            // Until approved, declined or expired: the poller ends the outcome by the code's expiry.
            try {
                l.outcome().get(java.time.Duration.between(java.time.Instant.now(), l.expires()).toMillis() + 30_000,
                        java.util.concurrent.TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                // told below
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (!l.outcome().isDone()) {
            return "waiting for approval of code " + l.userCode() + " (until " + l.expires() + ")\n";
        }
        return l.outcome().handle((token, failure) -> failure == null ? "signed in\n"
                : "not signed in: " + (failure.getCause() != null ? failure.getCause().getMessage() : failure.getMessage()) + "\n")
                .join();
    }
}
