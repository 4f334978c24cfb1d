# Sourced by bench/masque.sh and bench/connect-ip.sh: a real relay with the masque feature (the
# tenant 'bench' may reach 127.0.0.1) and a real node of that tenant in userspace mode, both from
# the distribution $dist, in a temporary folder removed on exit. Sets relay_pid, node_pid, quic,
# control, work; relay_exec and node_exec run shell commands in them. Needs here and dist; refuses to
# start beside a CloudBridge daemon already running (bench/lib/daemons.sh).
# NODE_FEATURES (default "core, shell, client") are the node's features.
# RELAY_JAVA_HOME runs the relay and the node on that JDK.

[ -x "$dist/bin/cloudbridge" ] || { echo "no distribution at $dist; run ./mvnw -B -DskipTests install" >&2; exit 1; }
. "$here/bench/lib/daemons.sh"
refuse_if_daemons_running
umask 077
work=$(mktemp -d)
BENCH_WORK=$work
relay_pid=
node_pid=
cleanup() {
  stop_all $node_pid $relay_pid
  rm -rf "$work"
}
trap_cleanup cleanup
free_port() { python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.$1); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
# The JDK of the relay and the node: RELAY_JAVA_HOME, or the default one (no JAVA_HOME).
if [ -n "${RELAY_JAVA_HOME:-}" ]; then java_env=(env JAVA_HOME="$RELAY_JAVA_HOME"); else java_env=(env -u JAVA_HOME); fi
# Runs a command on that JDK and returns (no exec: a caller in the benchmark's own shell goes on,
# and its exit trap still runs). The daemons are started with "${java_env[@]}" directly, in the
# background, so that $! is the pid of their JVM.
run_env() { "${java_env[@]}" "$@"; }
wait_for() { # file pattern what
  for _ in $(seq 1 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.2; done
  echo "$3 did not come up; log:" >&2; cat "$1" >&2; exit 1
}

control=$(free_port SOCK_STREAM); tls=$(free_port SOCK_STREAM); quic=$(free_port SOCK_DGRAM)
mkdir -p "$work/relay" "$work/node"
cat > "$work/relay/cloudbridge.yaml" <<YAML
kernel:
  features: [masque]
relay:
  listenAddress: 127.0.0.1
  controlPort: $control
  jwksPort: 0
listeners:
  address: 127.0.0.1
  tlsPort: $tls
  quicPort: $quic
  stunPort: -1
masque:
  allow: [bench=127.0.0.1/32]
YAML
"${java_env[@]}" "$dist/bin/cloudbridge" relay --config "$work/relay/cloudbridge.yaml" --state "$work/relay/state" >"$work/relay.log" 2>&1 &
relay_pid=$!
wait_for "$work/relay.log" 'relay QUIC protocol h3' "the relay's MASQUE proxy"
relay_exec() { run_env "$dist/bin/cloudbridge" exec --config "$work/relay/cloudbridge.yaml" --state "$work/relay/state" "$@"; }
relay_exec relay:key create --tenant bench --reusable | tr -d '[:space:]' > "$work/node/key"

cat > "$work/node/cloudbridge.yaml" <<YAML
kernel:
  features: [${NODE_FEATURES:-core, shell, client}]
wireguard:
  interfaceName: cbbench
  privateKeyFile: $work/node/wg.key
  listenAddress: 127.0.0.1
  listenPort: 0
  userspace: true
  uapiDirectory: ""
control:
  relay: 127.0.0.1:$control
  hostname: bench-node
  transports: [quic://127.0.0.1:$quic]
ice:
  directPaths: false
YAML
"${java_env[@]}" "$dist/bin/cloudbridge" up --config "$work/node/cloudbridge.yaml" --state "$work/node/state" \
  --pre-auth-key-file "$work/node/key" --userspace >"$work/node.log" 2>&1 &
node_pid=$!
wait_for "$work/node.log" 'registered with the relay' "the node"
node_exec() { run_env "$dist/bin/cloudbridge" exec --config "$work/node/cloudbridge.yaml" --state "$work/node/state" "$@"; }

jdk=$(tr '\0' ' ' < "/proc/$relay_pid/cmdline" | awk '{print $1}')
echo "relay pid $relay_pid, node pid $node_pid, JDK $("$jdk" -version 2>&1 | head -1); client JDK $(java -version 2>&1 | head -1); $(nproc) cores"

# Warnings or errors either process logged: a figure from a run that had them is suspect.
report_log_problems() {
  errors=$({ grep -c -E '"level":"(ERROR|WARN)"' "$work/relay.log" "$work/node.log" || true; } | awk -F: '{s += $2} END {print s}')
  [ "$errors" = 0 ] || { echo "warnings/errors in the logs:" >&2; grep -h -E '"level":"(ERROR|WARN)"' "$work/relay.log" "$work/node.log" | head -5 >&2; }
}
