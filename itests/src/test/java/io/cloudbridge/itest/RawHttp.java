package io.cloudbridge.itest;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;

/** Sends bytes that no HTTP client would, and returns whatever the server answers. */
final class RawHttp {
    private RawHttp() {
    }

    static String send(int port, String request) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(5000);
            try {
                s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
                s.getOutputStream().flush();
                s.shutdownOutput();
            } catch (SocketException closedEarly) {
                // the server may close before reading everything; its answer, if any, is below
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            InputStream in = s.getInputStream();
            byte[] buf = new byte[4096];
            try {
                int n;
                while ((n = in.read(buf)) > 0) {
                    out.write(buf, 0, n);
                }
            } catch (SocketException reset) {
                // a reset after the answer is fine
            }
            return out.toString(StandardCharsets.ISO_8859_1);
        }
    }
}
