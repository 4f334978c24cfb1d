package io.cloudbridge.api.tun;

import io.cloudbridge.api.net.IpPrefix;
import java.io.IOException;
import java.util.List;
import org.osgi.annotation.versioning.ProviderType;

/** Opens TUN devices: the tun bundle's service, present where the platform has them. */
@ProviderType
public interface TunDevices {

    /**
     * Creates (or attaches to) the TUN interface {@code name}, sets its MTU and addresses (with
     * prefix, such as {@code 10.99.0.1/24}), brings it up and routes {@code routes} into it. With
     * {@code offload} it asks the kernel for checksum and TCP segmentation offload and works
     * without where the kernel refuses ({@link TunDevice#offload()} says which).
     *
     * @throws IOException when the device cannot be had (no TUN module, no CAP_NET_ADMIN, a name
     *                     the kernel refuses), with a message that says which
     */
    TunDevice open(String name, int mtu, List<String> addresses, List<IpPrefix> routes, boolean offload)
            throws IOException;
}
