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
#        WARM_UP=3 (seconds of round trips through each path before its steady-state figures)
#        RELAY_JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 runs the relay and the node on that JDK.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
dist=${1:-$here/runtime/target/cloudbridge}
target=$(python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
NODE_FEATURES="core, shell, client, masque"
. "$here/bench/masque-lab.sh"

opened=$(node_exec tunnel:udp 0 "127.0.0.1:$target")
tunnel=$(echo "$opened" | grep -o 'UDP 127.0.0.1:[0-9]*' | cut -d: -f2)
[ -n "$tunnel" ] || { echo "no tunnel: $opened" >&2; exit 1; }

echo "$opened"
java -Xmx512m -Dclk.tck="$(getconf CLK_TCK)" "$here/bench/MasqueBench.java" --target-port "$target" --tunnel-port "$tunnel" \
  --relay-pid "$relay_pid" --node-pid "$node_pid" --size "${SIZE:-1200}" --pings "${PINGS:-2000}" \
  --seconds "${SECONDS_PER_CASE:-10}" --rate "${RATE:-0}" --warm-up "${WARM_UP:-3}"
echo
relay_exec masque:tunnels
report_log_problems
