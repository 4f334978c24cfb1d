#!/usr/bin/env bash
# Packets per second through CONNECT-IP (RFC 9484) against CONNECT-UDP, side by side: one real
# relay ('bin/cloudbridge relay' with the masque feature), one real node of the tenant in
# userspace mode ('bin/cloudbridge up --userspace', which answers pings itself), and one client
# (bench/ConnectIpBench.java, on the itests' raw HTTP/3 client) that keeps WINDOW echo requests in
# flight through each: ICMP echoes to the node through the relay's gateway (proxy, gateway's
# WireGuard, the relay's switch, the node's WireGuard, and back), UDP echoes of the same size to a
# socket on loopback through CONNECT-UDP. Reported: echoes/s, Mbit/s each way, the relay's CPU
# seconds per Gbit (both directions' bytes), and the ratio.
#
# Usage: bench/connect-ip.sh [DIST]   (DIST defaults to runtime/target/cloudbridge; build first: ./mvnw -B -DskipTests install)
#        SIZE=1200 WINDOW=32 SECONDS_PER_CASE=10
#        RELAY_JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 runs the relay and the node on that JDK.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
dist=${1:-$here/runtime/target/cloudbridge}
[ -x "$dist/bin/cloudbridge" ] || { echo "no distribution at $dist; run ./mvnw -B -DskipTests install" >&2; exit 1; }
[ -d "$here/itests/target/test-classes/io/cloudbridge/itest" ] || { echo "no itests classes; run ./mvnw -B -DskipTests install" >&2; exit 1; }

umask 077
work=$(mktemp -d)
relay_pid=
node_pid=
cleanup() {
  for p in $node_pid $relay_pid; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.$1); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
run_env() {
  if [ -n "${RELAY_JAVA_HOME:-}" ]; then exec env JAVA_HOME="$RELAY_JAVA_HOME" "$@"; else exec env -u JAVA_HOME "$@"; fi
}
wait_for() { # file pattern what
  for _ in $(seq 1 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.2; done
  echo "$3 did not come up; log:" >&2; cat "$1" >&2; exit 1
}

(cd "$here" && ./mvnw -B -q -o dependency:build-classpath -pl itests -Dmdep.includeScope=test -Dmdep.outputFile="$work/cp" >/dev/null)
classpath="$here/itests/target/test-classes:$(cat "$work/cp")"

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
run_env "$dist/bin/cloudbridge" relay --config "$work/relay/cloudbridge.yaml" --state "$work/relay/state" >"$work/relay.log" 2>&1 &
relay_pid=$!
wait_for "$work/relay.log" 'relay QUIC protocol h3' "the relay's MASQUE proxy"
relay_exec() { run_env "$dist/bin/cloudbridge" exec --config "$work/relay/cloudbridge.yaml" --state "$work/relay/state" "$@"; }
relay_exec relay:key create --tenant bench --reusable | tr -d '[:space:]' > "$work/node/key"

cat > "$work/node/cloudbridge.yaml" <<YAML
kernel:
  features: [core, shell, client]
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
run_env "$dist/bin/cloudbridge" up --config "$work/node/cloudbridge.yaml" --state "$work/node/state" \
  --pre-auth-key-file "$work/node/key" --userspace >"$work/node.log" 2>&1 &
node_pid=$!
wait_for "$work/node.log" 'registered with the relay' "the node"
address=$(run_env "$dist/bin/cloudbridge" exec --config "$work/node/cloudbridge.yaml" --state "$work/node/state" cb:whoami \
  | awk '/^address:/ {split($2, a, "/"); print a[1]}')

jdk=$(tr '\0' ' ' < "/proc/$relay_pid/cmdline" | awk '{print $1}')
echo "relay pid $relay_pid, node pid $node_pid, JDK $("$jdk" -version 2>&1 | head -1); client JDK $(java -version 2>&1 | head -1); $(nproc) cores"
java -Xmx512m -Dclk.tck="$(getconf CLK_TCK)" -cp "$classpath" "$here/bench/ConnectIpBench.java" --quic-port "$quic" \
  --control-port "$control" --key-file "$work/node/key" --node-address "$address" --relay-pid "$relay_pid" \
  --size "${SIZE:-1200}" --window "${WINDOW:-32}" --seconds "${SECONDS_PER_CASE:-10}"
echo
relay_exec masque:tunnels
errors=$(grep -c -E '"level":"(ERROR|WARN)"' "$work/relay.log" "$work/node.log" | awk -F: '{s += $2} END {print s}')
[ "$errors" = 0 ] || { echo "warnings/errors in the logs:" >&2; grep -h -E '"level":"(ERROR|WARN)"' "$work/relay.log" "$work/node.log" | head -5 >&2; }
