package io.cloudbridge.transport.websocket.internal;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The HTTP proxy a connection to a host goes through, from the standard environment variables
 * corporate networks set: {@code HTTPS_PROXY} (or {@code https_proxy}), {@code http://[user:password@]host:port},
 * and {@code NO_PROXY} (or {@code no_proxy}), a comma-separated list of host names, domain suffixes
 * ({@code .example.com} or {@code example.com}, which also match subdomains), addresses, and
 * {@code *} for none at all.
 */
record ProxySettings(InetSocketAddress proxy, String username, String password) {

    static Optional<ProxySettings> forHost(String host, Map<String, String> env) {
        String url = first(env, "HTTPS_PROXY", "https_proxy");
        if (url == null || url.isBlank() || bypassed(host, first(env, "NO_PROXY", "no_proxy"))) {
            return Optional.empty();
        }
        URI uri = URI.create(url.contains("://") ? url.trim() : "http://" + url.trim());
        if (!"http".equalsIgnoreCase(uri.getScheme()) || uri.getHost() == null) {
            throw new IllegalArgumentException("HTTPS_PROXY must be http://HOST:PORT, not " + uri.getScheme() + "://...");
        }
        String user = null;
        String password = null;
        if (uri.getRawUserInfo() != null) {
            String[] parts = uri.getRawUserInfo().split(":", 2);
            user = URLDecoder.decode(parts[0], StandardCharsets.UTF_8);
            password = parts.length > 1 ? URLDecoder.decode(parts[1], StandardCharsets.UTF_8) : "";
        }
        return Optional.of(new ProxySettings(InetSocketAddress.createUnresolved(uri.getHost(), uri.getPort() > 0 ? uri.getPort() : 80),
                user, password));
    }

    static boolean bypassed(String host, String noProxy) {
        if (noProxy == null || noProxy.isBlank()) {
            return false;
        }
        String h = host.toLowerCase(Locale.ROOT);
        for (String entry : noProxy.split(",")) {
            String e = entry.trim().toLowerCase(Locale.ROOT);
            if (e.isEmpty()) {
                continue;
            }
            if (e.equals("*")) {
                return true;
            }
            int colon = e.lastIndexOf(':');
            if (colon > 0 && e.indexOf(':') == colon) {
                e = e.substring(0, colon); // host:port: the port is not compared
            }
            String domain = e.startsWith(".") ? e.substring(1) : e;
            if (h.equals(domain) || h.endsWith("." + domain)) {
                return true;
            }
        }
        return false;
    }

    private static String first(Map<String, String> env, String... names) {
        for (String n : names) {
            String v = env.get(n);
            if (v != null && !v.isBlank()) {
                return v;
            }
        }
        return null;
    }

    @Override
    public String toString() {
        return "proxy " + proxy.getHostString() + ":" + proxy.getPort() + (username == null ? "" : " as " + username);
    }
}
