package io.cloudbridge.control.relay.internal;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

/**
 * The relay's public token-signing keys at {@code https://RELAY:jwksPort/.well-known/jwks.json},
 * over TLS 1.3 with the relay's own certificate, for anyone who verifies node tokens. The
 * relay's shared TLS listener, which dispatches by HTTP path, takes this over when the transports
 * bring it.
 */
final class JwksEndpoint implements AutoCloseable {
    static final String PATH = "/.well-known/jwks.json";

    private final HttpsServer server;
    private final ExecutorService executor;

    JwksEndpoint(InetSocketAddress address, RelayCertificate certificate, Supplier<String> jwks) throws IOException {
        SSLContext tls;
        try {
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            char[] password = new char[0];
            store.setKeyEntry("relay", certificate.privateKey(), password, new Certificate[] {certificate.certificate()});
            KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            keys.init(store, password);
            tls = SSLContext.getInstance("TLSv1.3");
            tls.init(keys.getKeyManagers(), null, null);
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot set up TLS for the JWKS endpoint: " + e.getMessage(), e);
        }
        server = HttpsServer.create(address, 16);
        server.setHttpsConfigurator(new HttpsConfigurator(tls) {
            @Override
            public void configure(HttpsParameters params) {
                params.setProtocols(new String[] {"TLSv1.3"});
            }
        });
        server.createContext("/", exchange -> answer(exchange, jwks));
        executor = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "relay-jwks");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.start();
    }

    private static void answer(HttpExchange exchange, Supplier<String> jwks) throws IOException {
        try (exchange) {
            boolean get = "GET".equals(exchange.getRequestMethod()) || "HEAD".equals(exchange.getRequestMethod());
            if (!PATH.equals(exchange.getRequestURI().getPath())) {
                exchange.sendResponseHeaders(404, -1);
                return;
            }
            if (!get) {
                exchange.getResponseHeaders().set("Allow", "GET, HEAD");
                exchange.sendResponseHeaders(405, -1);
                return;
            }
            byte[] body = jwks.get().getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "application/jwk-set+json");
            exchange.getResponseHeaders().set("Cache-Control", "max-age=300");
            if ("HEAD".equals(exchange.getRequestMethod())) {
                exchange.sendResponseHeaders(200, -1);
                return;
            }
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
    }

    int port() {
        return server.getAddress().getPort();
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
