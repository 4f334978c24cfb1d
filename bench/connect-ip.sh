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
[ -d "$here/itests/target/test-classes/io/cloudbridge/itest" ] || { echo "no itests classes; run ./mvnw -B -DskipTests install" >&2; exit 1; }

cpfile=$(mktemp)
(cd "$here" && ./mvnw -B -q -o dependency:build-classpath -pl itests -Dmdep.includeScope=test -Dmdep.outputFile="$cpfile" >/dev/null)
classpath="$here/itests/target/test-classes:$(cat "$cpfile")"
rm -f "$cpfile"
. "$here/bench/masque-lab.sh"
address=$(node_exec cb:whoami | awk '/^address:/ {split($2, a, "/"); print a[1]}')

java -Xmx512m -Dclk.tck="$(getconf CLK_TCK)" -cp "$classpath" "$here/bench/ConnectIpBench.java" --quic-port "$quic" \
  --control-port "$control" --key-file "$work/node/key" --node-address "$address" --relay-pid "$relay_pid" \
  --size "${SIZE:-1200}" --window "${WINDOW:-32}" --seconds "${SECONDS_PER_CASE:-10}"
echo
relay_exec masque:tunnels
report_log_problems
