#!/usr/bin/env bash
# CONNECT-UDP against plain UDP on loopback: round-trip latency (p50, p99) and throughput of
# 1,200-byte UDP payloads, sent straight to a target and through a tunnel: the node's tunnel:udp
# port, the node's HTTP/3 connection (HTTP Datagrams in QUIC DATAGRAM frames) to the relay's
# MASQUE proxy, the proxy's UDP socket to the target. A real relay ('bin/cloudbridge relay' with
# the masque feature) and a real node ('bin/cloudbridge up --userspace'), driven by
# bench/MasqueBench.java; both paths measured in the same run, one after the other. Reported: the
# tunnel's added latency and its throughput as a ratio of plain UDP's, and the relay's and the
# node's CPU seconds per Gbit delivered.
#
# Usage: bench/masque.sh [DIST]   (DIST defaults to runtime/target/cloudbridge; build first: ./mvnw -B -DskipTests install)
#        SIZE=1200 PINGS=2000 SECONDS_PER_CASE=10 RATE=0 (datagrams/s; 0: as fast as the sender goes)
#        RELAY_JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 runs the relay and the node on that JDK.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
dist=${1:-$here/runtime/target/cloudbridge}
[ -x "$dist/bin/cloudbridge" ] || { echo "no distribution at $dist; run ./mvnw -B -DskipTests install" >&2; exit 1; }

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

control=$(free_port SOCK_STREAM); tls=$(free_port SOCK_STREAM); quic=$(free_port SOCK_DGRAM); target=$(free_port SOCK_DGRAM)
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
key=$(run_env "$dist/bin/cloudbridge" exec --config "$work/relay/cloudbridge.yaml" --state "$work/relay/state" \
  relay:key create --tenant bench --reusable | tr -d '[:space:]')
printf '%s\n' "$key" > "$work/node/key"

cat > "$work/node/cloudbridge.yaml" <<YAML
kernel:
  features: [core, shell, client, masque]
wireguard:
  interfaceName: cbbench
  privateKeyFile: $work/node/wg.key
  listenAddress: 127.0.0.1
  listenPort: 0
  userspace: true
  uapiDirectory: ""
control:
  relay: 127.0.0.1:$control
  hostname: bench
  transports: [quic://127.0.0.1:$quic]
ice:
  directPaths: false
YAML
run_env "$dist/bin/cloudbridge" up --config "$work/node/cloudbridge.yaml" --state "$work/node/state" \
  --pre-auth-key-file "$work/node/key" --userspace >"$work/node.log" 2>&1 &
node_pid=$!
wait_for "$work/node.log" 'registered with the relay' "the node"
opened=$(run_env "$dist/bin/cloudbridge" exec --config "$work/node/cloudbridge.yaml" --state "$work/node/state" \
  tunnel:udp 0 "127.0.0.1:$target")
tunnel=$(echo "$opened" | grep -o 'UDP 127.0.0.1:[0-9]*' | cut -d: -f2)
[ -n "$tunnel" ] || { echo "no tunnel: $opened" >&2; exit 1; }

jdk=$(tr '\0' ' ' < "/proc/$relay_pid/cmdline" | awk '{print $1}')
echo "relay pid $relay_pid, node pid $node_pid, JDK $("$jdk" -version 2>&1 | head -1); client JDK $(java -version 2>&1 | head -1); $(nproc) cores"
echo "$opened"
java -Xmx512m -Dclk.tck="$(getconf CLK_TCK)" "$here/bench/MasqueBench.java" --target-port "$target" --tunnel-port "$tunnel" \
  --relay-pid "$relay_pid" --node-pid "$node_pid" --size "${SIZE:-1200}" --pings "${PINGS:-2000}" \
  --seconds "${SECONDS_PER_CASE:-10}" --rate "${RATE:-0}"
echo
run_env "$dist/bin/cloudbridge" exec --config "$work/relay/cloudbridge.yaml" --state "$work/relay/state" masque:tunnels
errors=$(grep -c -E '"level":"(ERROR|WARN)"' "$work/relay.log" "$work/node.log" | awk -F: '{s += $2} END {print s}')
[ "$errors" = 0 ] || { echo "warnings/errors in the logs:" >&2; grep -h -E '"level":"(ERROR|WARN)"' "$work/relay.log" "$work/node.log" | head -5 >&2; }
