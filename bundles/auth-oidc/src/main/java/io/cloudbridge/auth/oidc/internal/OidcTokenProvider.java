package io.cloudbridge.auth.oidc.internal;

import io.cloudbridge.api.auth.AccessToken;
import io.cloudbridge.api.auth.TokenProvider;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.metatype.annotations.Designate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Access tokens for the relay from the tenant's OpenID Provider. With client credentials it asks
 * whenever it has no token good for another minute. With the device authorization grant (RFC 8628)
 * a person approves the node: {@link #startLogin} asks for a device code, and a poller waits for the
 * approval at the pace the provider sets, slowing down when told to and giving up when the code
 * expires or the person declines.
 */
@Component(service = {TokenProvider.class, OidcTokenProvider.class}, configurationPid = "cloudbridge.oidc",
        configurationPolicy = ConfigurationPolicy.REQUIRE)
@Designate(ocd = OidcClientConfig.class)
public final class OidcTokenProvider implements TokenProvider {
    private static final Logger LOG = LoggerFactory.getLogger(OidcTokenProvider.class);
    static final String DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
    /** RFC 8628 3.5: slow_down adds five seconds to the interval. */
    static final Duration SLOW_DOWN = Duration.ofSeconds(5);

    private OidcClientConfig config;
    private Clock clock = Clock.systemUTC();
    private ScheduledExecutorService poller;
    private volatile AccessToken token;
    private volatile DeviceLogin login;

    /** A device sign-in in progress: what the person is shown, and how it ends. */
    public record DeviceLogin(String verificationUri, String verificationUriComplete, String userCode, Instant expires,
            CompletableFuture<AccessToken> outcome) {
    }

    @Activate
    void activate(OidcClientConfig c) throws IOException {
        OidcEndpoints.checkIssuer(c.issuer());
        config = c;
        poller = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "oidc-device-poll");
            t.setDaemon(true);
            return t;
        });
    }

    @Deactivate
    void deactivate() {
        poller.shutdownNow();
        DeviceLogin l = login;
        if (l != null) {
            l.outcome().completeExceptionally(new IOException("sign-in stopped"));
        }
    }

    @Override
    public String name() {
        return "oidc-" + config.flow();
    }

    @Override
    public CompletionStage<AccessToken> currentToken() {
        AccessToken t = token;
        if (t != null && !t.expiresWithin(Duration.ofMinutes(1), clock.instant())) {
            return CompletableFuture.completedFuture(t);
        }
        if ("client-credentials".equals(config.flow())) {
            return CompletableFuture.supplyAsync(() -> {
                try {
                    return clientCredentials();
                } catch (IOException e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
            });
        }
        return CompletableFuture.failedFuture(new IOException(t == null ? "not signed in: run cb:login"
                : "the sign-in expired: run cb:login again"));
    }

    @Override
    public void invalidate() {
        token = null;
    }

    private AccessToken clientCredentials() throws IOException {
        if (config.clientSecretFile().isBlank()) {
            throw new IOException("oidc.clientSecretFile is needed for client credentials");
        }
        String secret = Files.readString(Path.of(config.clientSecretFile())).trim();
        OidcEndpoints p = OidcEndpoints.discover(config.issuer());
        Map<String, String> form = new LinkedHashMap<>();
        form.put("grant_type", "client_credentials");
        form.put("resource", config.resource());
        form.put("scope", config.scope());
        OidcEndpoints.Answer a = OidcEndpoints.post(p.token, form, config.clientId(), secret);
        if (a.status() != 200) {
            throw new IOException("the provider refused the client credentials: " + a.error());
        }
        return keep(a);
    }

    private AccessToken keep(OidcEndpoints.Answer a) throws IOException {
        if (!(a.body().get("access_token") instanceof String value)) {
            throw new IOException("the provider's answer holds no access token");
        }
        long expiresIn = a.body().get("expires_in") instanceof Number n ? n.longValue() : 300;
        AccessToken t = new AccessToken(value, clock.instant().plusSeconds(expiresIn), "");
        token = t;
        return t;
    }

    /** Starts a device sign-in (one at a time: a new one replaces the last). */
    public DeviceLogin startLogin() throws IOException {
        if (!"device".equals(config.flow())) {
            throw new IOException("this node signs in with " + config.flow() + ", not a device code");
        }
        OidcEndpoints p = OidcEndpoints.discover(config.issuer());
        if (p.deviceAuthorization == null) {
            throw new IOException("the provider offers no device authorization endpoint");
        }
        Map<String, String> form = new LinkedHashMap<>();
        form.put("client_id", config.clientId());
        form.put("scope", config.scope());
        form.put("resource", config.resource());
        OidcEndpoints.Answer a = OidcEndpoints.post(p.deviceAuthorization, form, config.clientId(), null);
        if (a.status() != 200 || !(a.body().get("device_code") instanceof String deviceCode)
                || !(a.body().get("user_code") instanceof String userCode)
                || !(a.body().get("verification_uri") instanceof String uri)) {
            throw new IOException("the provider refused the device authorization request: " + a.error());
        }
        String complete = a.body().get("verification_uri_complete") instanceof String s ? s : uri;
        long expiresIn = a.body().get("expires_in") instanceof Number n ? n.longValue() : 600;
        long interval = a.body().get("interval") instanceof Number n ? Math.max(1, n.longValue()) : 5;
        DeviceLogin previous = login;
        if (previous != null) {
            previous.outcome().completeExceptionally(new IOException("replaced by a newer sign-in"));
        }
        DeviceLogin l = new DeviceLogin(uri, complete, userCode, clock.instant().plusSeconds(expiresIn), new CompletableFuture<>());
        login = l;
        poller.schedule(() -> poll(p, l, deviceCode, Duration.ofSeconds(interval)), interval, TimeUnit.SECONDS);
        return l;
    }

    /** One poll of the token endpoint (RFC 8628 3.4, 3.5). */
    private void poll(OidcEndpoints p, DeviceLogin l, String deviceCode, Duration interval) {
        if (l.outcome().isDone()) {
            return;
        }
        try {
            Map<String, String> form = new LinkedHashMap<>();
            form.put("grant_type", DEVICE_GRANT);
            form.put("device_code", deviceCode);
            form.put("client_id", config.clientId());
            OidcEndpoints.Answer a = OidcEndpoints.post(p.token, form, config.clientId(), null);
            if (a.status() == 200) {
                AccessToken t = keep(a);
                LOG.info("signed in at {}", config.issuer());
                l.outcome().complete(t);
                return;
            }
            String error = a.error();
            if ("authorization_pending".equals(error)) {
                poller.schedule(() -> poll(p, l, deviceCode, interval), interval.toMillis(), TimeUnit.MILLISECONDS);
            } else if ("slow_down".equals(error)) {
                Duration slower = interval.plus(SLOW_DOWN);
                poller.schedule(() -> poll(p, l, deviceCode, slower), slower.toMillis(), TimeUnit.MILLISECONDS);
            } else if ("expired_token".equals(error)) {
                l.outcome().completeExceptionally(new IOException("the code expired before it was approved: run cb:login again"));
            } else if ("access_denied".equals(error)) {
                l.outcome().completeExceptionally(new IOException("the sign-in was declined"));
            } else {
                l.outcome().completeExceptionally(new IOException("the provider refused the sign-in: " + error));
            }
        } catch (IOException e) {
            // The provider is unreachable for a moment: keep the pace and try again, until the code expires.
            if (clock.instant().isAfter(l.expires())) {
                l.outcome().completeExceptionally(new IOException("the code expired while the provider was unreachable"));
            } else {
                poller.schedule(() -> poll(p, l, deviceCode, interval), interval.toMillis(), TimeUnit.MILLISECONDS);
            }
        }
    }

    /** The sign-in in progress or last finished, for cb:login's status. */
    public DeviceLogin currentLogin() {
        return login;
    }
}
