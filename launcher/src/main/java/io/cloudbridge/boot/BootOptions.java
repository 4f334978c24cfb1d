package io.cloudbridge.boot;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The command line of {@code bin/cloudbridge}: a command, then options.
 *
 * @param command      run, exec, shell, help
 * @param home         the distribution folder
 * @param config       the YAML file
 * @param stateDir     the state folder, or {@code null} to take it from the configuration
 * @param socket       the admin socket for exec and shell, or {@code null} for the default
 * @param overrides    {@code section.key=value} overrides from {@code --set}
 * @param arguments    what follows the options (the command text of exec)
 */
record BootOptions(String command, Path home, Path config, Path stateDir, Path socket, List<String> overrides,
        List<String> arguments) {

    static final String USAGE = String.join("\n",
            "Usage: cloudbridge <command> [options]",
            "",
            "Commands:",
            "  run                 start the daemon in the foreground (features from the configuration)",
            "  relay               run as a relay: control plane, data plane and its transports, besides the configured features",
            "  up                  run as a node: sign in, register, bring the overlay up and reach every peer through the relay",
            "                      (--relay HOST:PORT, --pre-auth-key-file FILE, --userspace: no TUN device, no root needed,",
            "                      --masque-proxy URL: WireGuard's UDP through that MASQUE proxy where only HTTPS to it gets out)",
            "  exec 'COMMAND'      run one shell command in the running daemon and print its result",
            "  shell               attach an interactive shell to the running daemon",
            "  login               sign the running node in at its OpenID Provider (device code, QR code) and wait",
            "  help                print this text",
            "",
            "Options:",
            "  --config FILE       the configuration file (default: etc/cloudbridge.yaml)",
            "  --state DIR         the state folder (default: kernel.state, else state/)",
            "  --socket FILE       the admin socket for exec and shell (default: shell.socket, else STATE/admin.sock)",
            "  --set SECTION.KEY=VALUE   override one configuration value (repeatable; beats environment and file)",
            "");

    /** The override {@code --masque-proxy} adds: it also brings the feature masque. */
    static final String MASQUE_PATH_ON = "masque.wireguardPath=true";

    static final String MASQUE_MTU = "wireguard.mtu=1280";

    /** Whether the command line turned the MASQUE path on. */
    boolean masquePath() {
        return overrides.contains(MASQUE_PATH_ON);
    }

    static BootOptions parse(String[] args, Path home) throws IllegalArgumentException {
        if (args.length == 0) {
            throw new IllegalArgumentException("no command given");
        }
        String command = args[0];
        Path config = home.resolve("etc").resolve("cloudbridge.yaml");
        Path state = null;
        Path socket = null;
        List<String> overrides = new ArrayList<>();
        List<String> rest = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            String a = args[i];
            if (!rest.isEmpty()) {
                rest.add(a);
                continue;
            }
            switch (a) {
                case "--config" -> config = Path.of(value(args, ++i, a));
                case "--state" -> state = Path.of(value(args, ++i, a));
                case "--socket" -> socket = Path.of(value(args, ++i, a));
                case "--set" -> overrides.add(value(args, ++i, a));
                // bin/cloudbridge up: the node's usual settings without editing the file
                case "--relay" -> overrides.add("control.relay=" + value(args, ++i, a));
                case "--pre-auth-key-file" -> overrides.add("control.preAuthKeyFile=" + Path.of(value(args, ++i, a)).toAbsolutePath());
                case "--userspace" -> overrides.add("wireguard.userspace=true");
                case "--masque-proxy" -> {
                    // Where only HTTPS to a proxy gets out: WireGuard's UDP through CONNECT-UDP (feature masque).
                    overrides.add("masque.proxy=" + value(args, ++i, a));
                    overrides.add(MASQUE_PATH_ON);
                    // IPv6's minimum: a full WireGuard packet (1,312 bytes) then fits one QUIC
                    // datagram through the proxy; at the usual 1,420 it would not, and would travel
                    // in the tunnel's stream (reliable and ordered: TCP over TCP). First in the
                    // list, so that an explicit --set wireguard.mtu wins.
                    overrides.add(0, MASQUE_MTU);
                }
                default -> {
                    if (a.startsWith("--config=")) {
                        config = Path.of(a.substring("--config=".length()));
                    } else if (a.startsWith("--state=")) {
                        state = Path.of(a.substring("--state=".length()));
                    } else if (a.startsWith("--socket=")) {
                        socket = Path.of(a.substring("--socket=".length()));
                    } else if (a.startsWith("--set=")) {
                        overrides.add(a.substring("--set=".length()));
                    } else if (a.startsWith("--")) {
                        throw new IllegalArgumentException("unknown option " + a);
                    } else {
                        rest.add(a);
                    }
                }
            }
        }
        return new BootOptions(command, home, config.toAbsolutePath(), state == null ? null : state.toAbsolutePath(),
                socket == null ? null : socket.toAbsolutePath(), List.copyOf(overrides), List.copyOf(rest));
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return args[i];
    }
}
