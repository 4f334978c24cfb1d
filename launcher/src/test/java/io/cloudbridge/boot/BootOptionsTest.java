package io.cloudbridge.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class BootOptionsTest {
    private static final Path HOME = Path.of("/opt/cloudbridge");

    @Test
    void masqueProxySetsTheProxyTurnsThePathOnAndBringsTheFeature() {
        BootOptions o = BootOptions.parse(new String[] {"up", "--masque-proxy", "https://proxy.example:443", "--userspace"}, HOME);
        assertEquals(List.of("wireguard.mtu=1280", "masque.proxy=https://proxy.example:443", "masque.wireguardPath=true",
                "wireguard.userspace=true"), o.overrides());
        assertTrue(o.masquePath());
        assertTrue(Launcher.roleFeatures(o).contains("masque"), Launcher.roleFeatures(o).toString());
    }

    @Test
    void anExplicitMtuWinsOverTheMasquePathsWhereverItStands() {
        BootOptions o = BootOptions.parse(new String[] {"up", "--set", "wireguard.mtu=1400", "--masque-proxy", "https://p:443"}, HOME);
        assertTrue(o.overrides().indexOf("wireguard.mtu=1280") < o.overrides().indexOf("wireguard.mtu=1400"), o.overrides().toString());
    }

    @Test
    void withoutItANodeHasNoMasqueFeature() {
        BootOptions o = BootOptions.parse(new String[] {"up", "--relay", "relay.example:7443"}, HOME);
        assertFalse(o.masquePath());
        assertFalse(Launcher.roleFeatures(o).contains("masque"));
        assertEquals(List.of("shell", "relay", "transport-quic", "transport-websocket"),
                Launcher.roleFeatures(BootOptions.parse(new String[] {"relay"}, HOME)));
    }

    @Test
    void masqueProxyWithoutAValueIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> BootOptions.parse(new String[] {"up", "--masque-proxy"}, HOME));
        assertTrue(e.getMessage().contains("--masque-proxy needs a value"), e.getMessage());
    }
}
