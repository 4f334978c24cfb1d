package io.cloudbridge.auth.oidc.internal;

import com.nimbusds.jose.util.JSONObjectUtils;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.text.ParseException;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.StringJoiner;

/**
 * An OpenID Provider as its discovery document describes it, and the form posts its endpoints take.
 * Plain HTTP is accepted for a loopback issuer only (a provider on the same machine, as in tests);
 * anywhere else the issuer must be HTTPS.
 */
final class OidcEndpoints {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
            .followRedirects(HttpClient.Redirect.NEVER).build();
    /** A discovery document or token answer larger than this is not one. */
    private static final int MAX_BODY = 256 * 1024;

    final String issuer;
    final URI jwks;
    final URI token;
    final URI deviceAuthorization;

    private OidcEndpoints(String issuer, URI jwks, URI token, URI deviceAuthorization) {
        this.issuer = issuer;
        this.jwks = jwks;
        this.token = token;
        this.deviceAuthorization = deviceAuthorization;
    }

    static void checkIssuer(String issuer) throws IOException {
        URI u;
        try {
            u = URI.create(issuer);
        } catch (IllegalArgumentException e) {
            throw new IOException("the OIDC issuer '" + issuer + "' is not a URL");
        }
        boolean loopback = "127.0.0.1".equals(u.getHost()) || "localhost".equals(u.getHost()) || "[::1]".equals(u.getHost());
        if (!"https".equals(u.getScheme()) && !("http".equals(u.getScheme()) && loopback)) {
            throw new IOException("an OIDC URL must be https (http only on loopback): " + issuer);
        }
    }

    /** Reads {@code issuer/.well-known/openid-configuration}; its issuer must be the one asked for. */
    static OidcEndpoints discover(String issuer) throws IOException {
        checkIssuer(issuer);
        String base = issuer.endsWith("/") ? issuer.substring(0, issuer.length() - 1) : issuer;
        Map<String, Object> doc = json(send(HttpRequest.newBuilder(URI.create(base + "/.well-known/openid-configuration")).GET()
                .timeout(Duration.ofSeconds(10)).build()), "discovery document");
        if (!issuer.equals(doc.get("issuer")) && !base.equals(doc.get("issuer"))) {
            throw new IOException("the discovery document names issuer " + doc.get("issuer") + ", not " + issuer);
        }
        return new OidcEndpoints(issuer, uri(doc, "jwks_uri", true), uri(doc, "token_endpoint", true),
                uri(doc, "device_authorization_endpoint", false));
    }

    private static URI uri(Map<String, Object> doc, String name, boolean required) throws IOException {
        Object v = doc.get(name);
        if (v == null && !required) {
            return null;
        }
        if (!(v instanceof String s)) {
            throw new IOException("the discovery document has no " + name);
        }
        // The same rule as the issuer's: keys or secrets over plain HTTP could be read or replaced.
        checkIssuer(s);
        return URI.create(s);
    }

    /** A form post; returns the status and the JSON answer (OAuth errors come as JSON too). */
    record Answer(int status, Map<String, Object> body) {
        String error() {
            return body.get("error") instanceof String s ? s : null;
        }
    }

    static Answer post(URI endpoint, Map<String, String> form, String clientId, String clientSecret) throws IOException {
        StringJoiner body = new StringJoiner("&");
        form.forEach((k, v) -> body.add(URLEncoder.encode(k, StandardCharsets.UTF_8) + "=" + URLEncoder.encode(v, StandardCharsets.UTF_8)));
        HttpRequest.Builder r = HttpRequest.newBuilder(endpoint).timeout(Duration.ofSeconds(15))
                .header("Content-Type", "application/x-www-form-urlencoded").header("Accept", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString()));
        if (clientSecret != null) {
            // client_secret_basic: the id and secret, form-encoded, then Base64 (RFC 6749 2.3.1)
            String pair = URLEncoder.encode(clientId, StandardCharsets.UTF_8) + ":" + URLEncoder.encode(clientSecret, StandardCharsets.UTF_8);
            r.header("Authorization", "Basic " + Base64.getEncoder().encodeToString(pair.getBytes(StandardCharsets.UTF_8)));
        }
        HttpResponse<String> response = sendRaw(r.build());
        return new Answer(response.statusCode(), json(response.body(), "answer of " + endpoint));
    }

    private static String send(HttpRequest request) throws IOException {
        HttpResponse<String> r = sendRaw(request);
        if (r.statusCode() != 200) {
            throw new IOException(request.uri() + " answered HTTP " + r.statusCode());
        }
        return r.body();
    }

    private static HttpResponse<String> sendRaw(HttpRequest request) throws IOException {
        try {
            HttpResponse<String> r = HTTP.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            if (r.body().length() > MAX_BODY) {
                throw new IOException(request.uri() + " answered with more than " + MAX_BODY + " characters");
            }
            return r;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    private static Map<String, Object> json(String text, String what) throws IOException {
        try {
            return JSONObjectUtils.parse(text);
        } catch (ParseException e) {
            throw new IOException("the " + what + " is not JSON");
        }
    }
}
