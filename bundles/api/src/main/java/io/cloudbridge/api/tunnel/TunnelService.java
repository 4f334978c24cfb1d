package io.cloudbridge.api.tunnel;

import java.io.IOException;
import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/** Opens and lists tunnels through a MASQUE proxy. */
@ProviderType
public interface TunnelService {

    /** Listens on local UDP {@code localPort} and forwards each datagram to {@code host:port} through CONNECT-UDP. */
    TunnelInfo openUdp(int localPort, String host, int port) throws IOException;

    List<TunnelInfo> tunnels();

    /** Returns whether a tunnel with that id was open. */
    boolean close(String id);
}
