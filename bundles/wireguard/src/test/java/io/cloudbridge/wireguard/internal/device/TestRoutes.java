package io.cloudbridge.wireguard.internal.device;

import io.cloudbridge.api.path.DirectPath;
import io.cloudbridge.api.path.PathBinding;
import io.cloudbridge.paths.internal.OverlayBinding;
import java.util.function.Supplier;

/** Routes for a test's binding: the path the test names at each message, or none (the peer's endpoint). */
final class TestRoutes {
    private TestRoutes() {
    }

    static OverlayBinding.Routes via(Supplier<DirectPath> path) {
        return (peer, message) -> {
            DirectPath p = path.get();
            if (p == null) {
                return null;
            }
            return p.send(message) ? PathBinding.Sent.SENT : PathBinding.Sent.PATH_REFUSED;
        };
    }
}
