#!/usr/bin/env bash
# The relay's data plane: packets relayed node -> relay -> node on loopback, over QUIC and over
# WebSocket, full-size (a 1,420-byte-MTU WireGuard packet, 1,452 bytes, or the largest the session
# takes) and 100-byte packets, through a real relay daemon ('bin/cloudbridge relay'), driven by
# bench/RelayBench.java with the transports' own node-side code: one sender, one receiver, the
# sender as fast as its session takes packets. Reported: packets/s and Mbit/s received, loss, and
# the relay's CPU (utime+stime from /proc/PID/stat) per Gbit delivered.
#
# Reference, in the same run: coturn (turnserver from the distribution's packages) relaying between
# two of its own clients (turnutils_uclient -y: client to client through the relay) the same sizes,
# over plain UDP (the ceiling: no encryption) and over DTLS (like for like: encrypted to the relay),
# 4 client pairs sending as fast as the tool does (-z 0). Same measures: Mbit/s received over the
# tool's wall time, and turnserver's CPU per Gbit.
#
# Usage: bench/relay-throughput.sh [DIST]  (SECONDS_PER_CASE=10 per case after WARMUP_SECONDS=5; build first: ./mvnw -B -DskipTests install)
#        RELAY_JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 runs the relay on that JDK.
#        TRANSPORTS=quic SIZES=full REFERENCE=0 narrows the run (for profiling: CLOUDBRIDGE_JAVA_OPTS
#        reaches the relay's JVM).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
dist=${1:-$here/runtime/target/cloudbridge}
seconds=${SECONDS_PER_CASE:-10}
[ -x "$dist/bin/cloudbridge" ] || { echo "no distribution at $dist; run ./mvnw -B -DskipTests install" >&2; exit 1; }
command -v turnserver >/dev/null && command -v turnutils_uclient >/dev/null \
  || { echo "the reference needs coturn: apt-get install coturn" >&2; exit 1; }
. "$here/bench/lib/daemons.sh"
refuse_if_daemons_running

cpfile=$(mktemp)
(cd "$here" && ./mvnw -q -o dependency:build-classpath -pl itests -Dmdep.outputFile="$cpfile" -Dmdep.includeScope=test >/dev/null)
classpath=$(cat "$cpfile")
rm -f "$cpfile"

umask 077
work=$(mktemp -d)
BENCH_WORK=$work
relay_pid=
turn_pid=
cleanup() {
  stop_all $relay_pid $turn_pid
  rm -rf "$work"
}
trap_cleanup cleanup
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

control=$(free_port); tls=$(free_port); quic=$(free_port)
cat > "$work/relay.yaml" <<YAML
relay:
  listenAddress: 127.0.0.1
  controlPort: $control
  jwksPort: 0
listeners:
  address: 127.0.0.1
  tlsPort: $tls
  quicPort: $quic
forwarding:
  nodePacketsPerSecond: 0
  nodeBytesPerSecond: 0
  tenantPacketsPerSecond: 0
  tenantBytesPerSecond: 0
  capacityPacketsPerSecond: 0
  capacityBytesPerSecond: 0
YAML
relay_env() {
  if [ -n "${RELAY_JAVA_HOME:-}" ]; then exec env JAVA_HOME="$RELAY_JAVA_HOME" "$@"; else exec env -u JAVA_HOME "$@"; fi
}
relay_env "$dist/bin/cloudbridge" relay --config "$work/relay.yaml" --state "$work/state" >"$work/relay.log" 2>&1 &
relay_pid=$!
for _ in $(seq 1 300); do
  grep -q 'relay QUIC protocol cloudbridge/1' "$work/relay.log" 2>/dev/null && grep -q 'relay route /cloudbridge/v1/ws' "$work/relay.log" && break
  sleep 0.2
done
key=$(relay_env "$dist/bin/cloudbridge" exec --config "$work/relay.yaml" --state "$work/state" relay:key create --tenant bench --reusable | tr -d '[:space:]')
fingerprint=$(relay_env "$dist/bin/cloudbridge" exec --config "$work/relay.yaml" --state "$work/state" relay:fingerprint | tr -d '[:space:]')
echo "relay pid $relay_pid, JDK $("$(tr '\0' ' ' < /proc/$relay_pid/cmdline | awk '{print $1}')" -version 2>&1 | head -1); $(nproc) cores"
echo
echo "CloudBridge relay (${seconds} s per case):"
java -Xmx1g -Dclk.tck="$(getconf CLK_TCK)" -cp "$classpath" "$here/bench/RelayBench.java" --control-port "$control" \
  --tls-port "$tls" --quic-port "$quic" --key "$key" --fingerprint "$fingerprint" --relay-pid "$relay_pid" --seconds "$seconds" --warmup "${WARMUP_SECONDS:-5}" --rate "${RATE:-0}" \
  --sizes "${SIZES:-full,100}" --transports "${TRANSPORTS:-quic,websocket}"
kill -TERM "$relay_pid"; wait "$relay_pid" 2>/dev/null || true; relay_pid=
[ "${REFERENCE:-1}" = 0 ] && exit 0

# The reference: coturn on loopback, UDP and DTLS, with a throwaway certificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/turn.key" -out "$work/turn.crt" \
  -days 1 -subj /CN=bench 2>/dev/null
turn_port=$(free_port); turn_tls=$(free_port)
cat > "$work/turn.conf" <<CONF
listening-ip=127.0.0.1
relay-ip=127.0.0.1
listening-port=$turn_port
tls-listening-port=$turn_tls
lt-cred-mech
user=bench:bench
realm=bench
cert=$work/turn.crt
pkey=$work/turn.key
no-cli
allow-loopback-peers
log-file=stdout
simple-log
CONF
turnserver -c "$work/turn.conf" >"$work/turn.log" 2>&1 &
turn_pid=$!
sleep 1.5
echo
echo "Reference: coturn $(turnserver --version 2>/dev/null | head -1), 4 client pairs, turnutils_uclient -y -c -z 0:"
printf '%-10s %6s %8s %12s %10s %8s %12s %14s\n' "transport" "bytes" "seconds" "packets/s" "Mbit/s" "loss %" "relay CPU s" "CPU s / Gbit"
for mode in udp dtls; do
  for size in 1452 100; do
    flags=(-y -c -z 0 -m 4 -l "$size" -u bench -w bench -r bench)
    messages=$(( size > 1000 ? 20000 : 40000 ))
    if [ "$mode" = dtls ]; then flags+=(-S -p "$turn_tls"); else flags+=(-p "$turn_port"); fi
    c0=$(cpu_ticks "$turn_pid"); t0=$(date +%s%N)
    out=$(turnutils_uclient "${flags[@]}" -n "$messages" 127.0.0.1 2>&1 || true)
    t1=$(date +%s%N); c1=$(cpu_ticks "$turn_pid")
    recv_bytes=$(echo "$out" | grep -o 'tot_recv_bytes ~ [0-9]*' | tail -1 | awk '{print $3}')
    recv_msgs=$(echo "$out" | grep -o 'tot_recv_msgs=[0-9]*' | tail -1 | cut -d= -f2)
    sent_msgs=$(echo "$out" | grep -o 'tot_send_msgs=[0-9]*' | tail -1 | cut -d= -f2)
    awk -v m="$mode" -v s="$size" -v rb="${recv_bytes:-0}" -v rm="${recv_msgs:-0}" -v sm="${sent_msgs:-0}" -v ns=$((t1 - t0)) \
        -v cpu=$((c1 - c0)) -v tck="$(getconf CLK_TCK)" 'BEGIN {
      secs = ns / 1e9; gbit = rb * 8 / 1e9; c = cpu / tck;
      printf "%-10s %6d %8.1f %12.0f %10.1f %8.2f %12.2f %14.2f\n", "coturn-" m, s, secs, rm / secs, rb * 8 / secs / 1e6,
        (sm > 0 ? 100 * (sm - rm) / sm : 0), c, (gbit > 0 ? c / gbit : 0) }'
  done
done
