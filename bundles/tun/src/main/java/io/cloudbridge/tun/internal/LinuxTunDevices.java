package io.cloudbridge.tun.internal;

import io.cloudbridge.api.net.IpPrefix;
import io.cloudbridge.api.tun.TunDevice;
import io.cloudbridge.api.tun.TunDevices;
import java.io.IOException;
import java.util.List;
import org.osgi.service.component.annotations.Component;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Linux's TUN devices, through {@code /dev/net/tun} and iproute2. */
@Component(service = TunDevices.class)
public final class LinuxTunDevices implements TunDevices {
    private static final Logger LOG = LoggerFactory.getLogger(LinuxTunDevices.class);

    @Override
    public TunDevice open(String name, int mtu, List<String> addresses, List<IpPrefix> routes, boolean offload)
            throws IOException {
        LinuxTun tun = LinuxTun.open(name, offload);
        if (offload && !tun.offload()) {
            LOG.info("TUN device {}: the kernel refused segmentation offload; packets are read one by one", name);
        }
        try {
            tun.setMtu(mtu);
            for (String a : addresses) {
                tun.addAddress(a);
            }
            tun.up();
            for (IpPrefix r : routes) {
                tun.addRoute(r.toString());
            }
            return new LinuxTunDevice(tun);
        } catch (IOException | RuntimeException e) {
            tun.close();
            throw e;
        }
    }
}
