package io.cloudbridge.wireguard.internal.component;

import io.cloudbridge.api.path.PeerPaths;
import io.cloudbridge.api.tun.TunDevice;
import io.cloudbridge.wireguard.internal.device.OverlayMtu;
import java.io.IOException;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The TUN device's MTU; a derived one (wireguard.mtu 0) follows what the peers' paths carry. */
final class TunMtu {
    private static final Logger LOG = LoggerFactory.getLogger(TunMtu.class);

    /** The component's: both come and go while the watch runs. */
    private final Supplier<PeerPaths> paths;
    private final Supplier<TunDevice> tun;
    /** The TUN device's MTU now; it shrinks to what the relay path carries (see followPathLimit). */
    private volatile int tunMtu;
    private java.util.concurrent.ScheduledExecutorService mtuWatch;
    private int tooSmallLimitWarned;

    TunMtu(Supplier<PeerPaths> paths, Supplier<TunDevice> tun) {
        this.paths = paths;
        this.tun = tun;
    }

    /** The MTU now; 0 while no TUN device had one. */
    int current() {
        return tunMtu;
    }

    void set(int mtu) {
        tunMtu = mtu;
    }

    /** Checks each second from now on that the MTU, derived as it is now, fits the paths' limit. */
    void followPaths(String interfaceName) {
        int derived = tunMtu;
        mtuWatch = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "wireguard-mtu-" + interfaceName);
            t.setDaemon(true);
            return t;
        });
        mtuWatch.scheduleWithFixedDelay(() -> followPathLimit(derived), 1, 1, java.util.concurrent.TimeUnit.SECONDS);
    }

    void stop() {
        if (mtuWatch != null) {
            mtuWatch.shutdownNow();
            mtuWatch = null;
        }
    }

    /**
     * A derived MTU leaves room for what the paths carry: a relay's QUIC datagram holds less than a
     * 1,500-byte link, and a WireGuard packet too large for its path is lost whole (TCP would stall
     * on it). The paths' limit is the smallest each transport last had, so the MTU does not swing
     * with moves between transports; it rises once when QUIC's path MTU discovery finds more room.
     */
    private void followPathLimit(int derived) {
        PeerPaths pm = paths.get();
        TunDevice device = tun.get();
        if (pm == null || device == null) {
            return;
        }
        java.util.OptionalInt limit = pm.packetLimit();
        if (limit.isEmpty()) {
            return;
        }
        // A transport message is the packet padded to a multiple of 16, plus WireGuard's 16-byte
        // header and 16-byte tag: an MTU that is a multiple of 16 pads to no more than itself.
        int wanted = Math.min(derived, (limit.getAsInt() - 32) & ~15);
        if (wanted < OverlayMtu.MINIMUM) {
            if (limit.getAsInt() != tooSmallLimitWarned) { // once per limit: this runs every second
                tooSmallLimitWarned = limit.getAsInt();
                LOG.warn("the relay path carries WireGuard packets of {} bytes only: the overlay MTU stays at the minimum {}, "
                        + "and larger packets are lost on the way", limit.getAsInt(), OverlayMtu.MINIMUM);
            }
            wanted = OverlayMtu.MINIMUM;
        }
        if (wanted != tunMtu) {
            try {
                device.setMtu(wanted);
                LOG.info("overlay MTU of {} now {}: its paths carry WireGuard packets of at most {} bytes", device.name(), wanted,
                        limit.getAsInt());
                tunMtu = wanted;
            } catch (IOException e) {
                LOG.warn("cannot set the MTU of {} to {}: {}", device.name(), wanted, e.toString());
            }
        }
    }
}
