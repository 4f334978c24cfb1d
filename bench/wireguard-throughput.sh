#!/usr/bin/env bash
# TCP throughput through a WireGuard tunnel between two network namespaces, for
#   wireguard-go <-> wireguard-go   (the reference)
#   Java <-> wireguard-go
#   Java <-> Java
# measured in one run with iperf3 (DURATION seconds each, default 10), each as a ratio to the
# reference, plus the tunnel engines' CPU seconds per GB moved (both ends summed). The Java engine
# runs on the default JDK and, when present, on Temurin 25.
#
# With ABLATION=1 the run adds Java <-> Java rows on the default JDK with parts of the data path
# changed: TUN offload off (packets read and written one by one), and crypto spread over both
# cores (the default on two cores is the I/O threads alone).
#
# With PEERS=N every engine also has N more peers (random keys, a /32 and a /128 each, no traffic),
# as a node of a large mesh has: each packet is routed among all of their prefixes.
#
# With POLICY=N the run is Java <-> Java on the default JDK only, three rounds interleaved: no
# filter on the data path, the policy filter of a tenant without a policy (flows tracked, all let
# in), and a policy of N rules (N - 1 that do not match the tunnel's flow, then one that accepts
# it); medians of the three (ROUNDS=N: N rounds), each as a ratio to no filter.
#
# With DATAPATH=1 the run is Java <-> Java on the default JDK only, ROUNDS (3) rounds interleaved,
# for the data path's parts one by one: as it was (the JDK's ChaCha20-Poly1305, the JDK's socket: a
# datagram a system call), the engine's own ChaCha20-Poly1305, then the epoll socket (bursts a
# system call: UDP GSO and GRO); medians, each as a ratio to the first (throughput, CPU s per GB).
#
# With JFR=1 the Java engines of the Java <-> Java pairs also record a flight recording, and the
# script reports the bytes each data-path thread allocated per packet it carried (python3 reads the
# recording's JSON); JFR_DIR=DIR keeps the recordings.
#
# Needs root, wireguard-go, wireguard-tools and iperf3. Build first: ./mvnw -B -DskipTests install
# Usage: sudo bench/wireguard-throughput.sh      or      sudo JFR=1 bench/wireguard-throughput.sh
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
duration=${DURATION:-10}
[ "$(id -u)" -eq 0 ] || { echo "needs root (network namespaces, TUN)" >&2; exit 1; }
for tool in wireguard-go wg iperf3 ip; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done
. "$here/bench/lib/daemons.sh"
refuse_if_daemons_running

cpfile=$(mktemp)
# TunNode, the engine on its own, is a harness in the test classes; the TUN devices are a test dependency.
# In one session with a compile, so that the sibling modules resolve to their target/classes.
(cd "$here" && ./mvnw -q -o test-compile dependency:build-classpath -pl bundles/wireguard -am -Dmdep.outputFile="$cpfile" \
  -Dmdep.includeScope=test >/dev/null)
classpath="$here/bundles/wireguard/target/test-classes:$here/bundles/wireguard/target/classes:$(cat "$cpfile")"
rm -f "$cpfile"

umask 077
work=$(mktemp -d)
BENCH_WORK=$work
cleanup() {
  # Engines (and iperf3 servers) are started in command substitutions (subshells): their pids are
  # kept in a file. stop_all returns when they are gone.
  local pids=()
  if [ -f "$work/pids" ]; then mapfile -t pids < "$work/pids"; fi
  stop_all "${pids[@]}"
  ip netns del cbbA 2>/dev/null || true
  ip netns del cbbB 2>/dev/null || true
  rm -rf "$work"
}
trap_cleanup cleanup

ip netns add cbbA
ip netns add cbbB
ip link add cbbva type veth peer name cbbvb
ip link set cbbva netns cbbA
ip link set cbbvb netns cbbB
ip -n cbbA addr add 10.201.0.1/24 dev cbbva
ip -n cbbB addr add 10.201.0.2/24 dev cbbvb
for n in cbbA cbbB; do ip -n $n link set lo up; done
ip -n cbbA link set cbbva up
ip -n cbbB link set cbbvb up

peers=${PEERS:-0}
if [ "$peers" -gt 0 ]; then
  # One file per engine kind, the same peers: wg's configuration format, and TunNode's line format.
  for i in $(seq 0 $((peers - 1))); do
    key=$(head -c 32 /dev/urandom | base64)
    v4="10.203.$((i / 256)).$((i % 256))/32"
    v6="fd00:203::$(printf '%x' "$i")/128"
    printf '[Peer]\nPublicKey = %s\nAllowedIPs = %s, %s\n\n' "$key" "$v4" "$v6" >> "$work/more.conf"
    printf '%s %s,%s\n' "$key" "$v4" "$v6" >> "$work/more.peers"
  done
fi

wg genkey > "$work/a.key"; wg pubkey < "$work/a.key" > "$work/a.pub"
wg genkey > "$work/b.key"; wg pubkey < "$work/b.key" > "$work/b.pub"

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# start_engine KIND NS SIDE JAVA_HOME [TunNode options...] -> prints the pid
start_engine() {
  local kind=$1 ns=$2 side=$3 jhome=$4 other self iface
  shift 4
  local node_args=("$@")
  if [ "$side" = a ]; then self=1; other=2; else self=2; other=1; fi
  if [ "$kind" = go ]; then
    iface=cbbg$side
    rm -f "/var/run/wireguard/$iface.sock" # a stale one would look ready
    ip netns exec "$ns" env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 wireguard-go -f "$iface" >/dev/null 2>&1 &
    local pid=$!
    echo "$pid" >> "$work/pids"
    for _ in $(seq 100); do [ -S "/var/run/wireguard/$iface.sock" ] && ip -n "$ns" link show "$iface" >/dev/null 2>&1 && break; sleep 0.05; done
    ip netns exec "$ns" wg set "$iface" private-key "$work/$side.key" listen-port 51820 \
      peer "$(cat "$work/$([ "$side" = a ] && echo b || echo a).pub")" allowed-ips "10.202.0.$other/32" \
      endpoint "10.201.0.$other:51820"
    if [ "$peers" -gt 0 ]; then ip netns exec "$ns" wg addconf "$iface" "$work/more.conf"; fi
    ip -n "$ns" addr add "10.202.0.$self/24" dev "$iface"
    ip -n "$ns" link set "$iface" mtu 1420 up
    echo "$pid"
  else
    iface=cbbj$side
    local jfr=() more=()
    if [ "$peers" -gt 0 ]; then more=(--more-peers "$work/more.peers"); fi
    if [ "${JFR:-0}" = 1 ]; then
      jfr=("-XX:StartFlightRecording=filename=$work/java-$side.jfr,settings=default")
    fi
    # shellcheck disable=SC2086
    ip netns exec "$ns" "$jhome/bin/java" -XX:+UseParallelGC -Xms256m -Xmx1g "${jfr[@]}" ${engine_jvm_opts:-} -cp "$classpath" \
      io.cloudbridge.wireguard.internal.device.TunNode --tun "$iface" --address "10.202.0.$self/24" \
      --listen "10.201.0.$self:51820" --private-key-file "$work/$side.key" \
      --peer "$(cat "$work/$([ "$side" = a ] && echo b || echo a).pub")" --endpoint "10.201.0.$other:51820" \
      --allowed "10.202.0.$other/32" "${more[@]}" "${node_args[@]}" >"$work/java-$side.log" 2>&1 &
    local pid=$!
    echo "$pid" >> "$work/pids"
    for _ in $(seq 200); do ip -n "$ns" link show "$iface" 2>/dev/null | grep -q UP && break; sleep 0.05; done
    echo "$pid"
  fi
}

# run KIND_A KIND_B JAVA_HOME LABEL [TunNode options...]
run() {
  local a b
  local extra=("${@:5}")
  a=$(start_engine "$1" cbbA a "$3" "${extra[@]}")
  b=$(start_engine "$2" cbbB b "$3" "${extra[@]}")
  ip netns exec cbbB iperf3 -s -1 -B 10.202.0.2 >/dev/null 2>&1 &
  local server=$!
  echo "$server" >> "$work/pids"
  sleep 0.3
  ip netns exec cbbA ping -c 1 -W 5 10.202.0.2 >/dev/null || { echo "$4: no tunnel" >&2; cat "$work"/java-*.log >&2 2>/dev/null; ip -n cbbA addr >&2; exit 1; }
  local c0a c0b
  c0a=$(cpu_ticks "$a"); c0b=$(cpu_ticks "$b")
  local out
  out=$(ip netns exec cbbA iperf3 -c 10.202.0.2 -t "$duration" -f m)
  local c1a c1b
  c1a=$(cpu_ticks "$a"); c1b=$(cpu_ticks "$b")
  wait "$server" 2>/dev/null || true
  kill "$a" "$b" 2>/dev/null || true
  # The engines are not this shell's children (started in a command substitution): wait for them
  # to be gone, so the next pair finds no leftover interface.
  for _ in $(seq 200); do [ -e "/proc/$a" ] || [ -e "/proc/$b" ] || break; sleep 0.05; done
  local mbps bytes
  mbps=$(echo "$out" | awk '/receiver/ {for (i = 1; i <= NF; i++) if ($(i) == "Mbits/sec") print $(i-1)}')
  bytes=$(echo "$out" | awk '/receiver/ {for (i = 1; i <= NF; i++) if ($(i) == "MBytes") print $(i-1) * 1048576; else if ($(i) == "GBytes") print $(i-1) * 1073741824}')
  local cpu=$(( (c1a - c0a) + (c1b - c0b) ))
  echo "$4|$mbps|$(awk -v c="$cpu" -v t="$ticks" -v b="$bytes" 'BEGIN { printf "%.2f", (c / t) / (b / 1e9) }')"
  if [ "${JFR:-0}" = 1 ] && [ "$1" = java ] && [ "$2" = java ]; then
    for side in a b; do
      for _ in $(seq 100); do [ -s "$work/java-$side.jfr" ] && break; sleep 0.1; done
      allocation_per_packet "$side" "$4" "$3" >&2
      if [ -n "${JFR_DIR:-}" ]; then
        mkdir -p "$JFR_DIR"
        cp "$work/java-$side.jfr" "$JFR_DIR/$(echo "$4" | tr -c 'A-Za-z0-9' '_')-$side.jfr"
      fi
    done
  fi
}

# Bytes allocated per packet on the encrypt path (the TUN reader "wireguard-tun-*" and its crypto
# helpers "wireguard-encrypt-*") and on the decrypt path ("wireguard-receive" and
# "wireguard-decrypt-*"), from the last jdk.ThreadAllocationStatistics of each thread.
allocation_per_packet() {
  local side=$1 label=$2 jhome=$3
  "$jhome/bin/jfr" print --json --events jdk.ThreadAllocationStatistics \
      "$work/java-$side.jfr" > "$work/alloc-$side.json"
  python3 - "$work/alloc-$side.json" "$work/java-$side.log" "$label" "$side" <<'PY'
import json, re, sys
events = json.load(open(sys.argv[1]))["recording"]["events"]
last = {}
for e in events:
    v = e["values"]
    last[v["thread"]["javaName"]] = v["allocated"]
log = open(sys.argv[2]).read()
m = re.search(r"packets: sent=(\d+) received=(\d+)", log)
sent, received = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
def path(*prefixes):
    return sum(v for k, v in last.items() if k and k.startswith(prefixes))
enc = path("wireguard-tun-", "wireguard-encrypt-") / max(sent, 1)
dec = path("wireguard-receive", "wireguard-decrypt-") / max(received, 1)
print(f"  {sys.argv[3]}, side {sys.argv[4]}: encrypt path {enc:.0f} B/packet over {sent} packets,"
      f" decrypt path {dec:.0f} B/packet over {received} packets")
PY
}

if [ -n "${POLICY:-}" ]; then
  home=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
  declare -A rounds=()
  for round in $(seq "${ROUNDS:-3}"); do
    rounds[none]+="$(run java java "$home" "no filter" | cut -d'|' -f2,3) "
    rounds[open]+="$(run java java "$home" "open" --policy open | cut -d'|' -f2,3) "
    rounds[rules]+="$(run java java "$home" "$POLICY rules" --policy "$POLICY" | cut -d'|' -f2,3) "
  done
  median() { tr ' ' '\n' | grep -v '^$' | cut -d'|' -f"$1" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
  reference=$(echo "${rounds[none]}" | median 1)
  printf '%-46s %10s %8s %14s   %s\n' "Java <-> Java (default JDK), filter" "Mbit/s" ratio "CPU s per GB" "rounds (Mbit/s|CPU s per GB)"
  for k in none open rules; do
    label=$([ "$k" = none ] && echo "none" || ([ "$k" = open ] && echo "no policy" || echo "policy of $POLICY rules"))
    m=$(echo "${rounds[$k]}" | median 1); c=$(echo "${rounds[$k]}" | median 2)
    printf '%-46s %10s %8.2f %14s   %s\n' "$label" "$m" "$(awk -v m="$m" -v r="$reference" 'BEGIN { print m / r }')" "$c" "${rounds[$k]}"
  done
  exit 0
fi

if [ "${DATAPATH:-0}" = 1 ]; then
  home=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
  # label|JVM options|TunNode options
  variants=("as it was: JDK's AEAD, a datagram a call|-Dcloudbridge.wireguard.aead=jdk|--socket-batching false"
    "engine's AEAD, a datagram a call|-Dcloudbridge.wireguard.aead=engine|--socket-batching false"
    "engine's AEAD, bursts a call (GSO, GRO)|-Dcloudbridge.wireguard.aead=engine|--socket-batching true")
  declare -A rounds=()
  for round in $(seq "${ROUNDS:-3}"); do
    for v in "${variants[@]}"; do
      IFS='|' read -r label engine_jvm_opts opts <<<"$v"
      # shellcheck disable=SC2086
      rounds[$label]+="$(run java java "$home" "$label" $opts | cut -d'|' -f2,3) "
    done
  done
  engine_jvm_opts=
  median() { tr ' ' '\n' | grep -v '^$' | cut -d'|' -f"$1" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
  first=${variants[0]%%|*}
  m0=$(echo "${rounds[$first]}" | median 1); c0=$(echo "${rounds[$first]}" | median 2)
  printf '%-46s %8s %6s %8s %6s   %s\n' "Java <-> Java ($(java -version 2>&1 | head -1 | cut -d'"' -f2))" "Mbit/s" ratio "CPU s/GB" ratio "rounds (Mbit/s|CPU s per GB)"
  for v in "${variants[@]}"; do
    label=${v%%|*}
    m=$(echo "${rounds[$label]}" | median 1); c=$(echo "${rounds[$label]}" | median 2)
    printf '%-46s %8s %6.2f %8s %6.2f   %s\n' "$label" "$m" "$(awk -v a="$m" -v b="$m0" 'BEGIN { print a / b }')" "$c" \
      "$(awk -v a="$c" -v b="$c0" 'BEGIN { print a / b }')" "${rounds[$label]}"
  done
  exit 0
fi

results=()
results+=("$(run go go "" "wireguard-go <-> wireguard-go")")
jdks=("default:$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
for t in /usr/lib/jvm/temurin-25-jdk-*; do [ -x "$t/bin/java" ] && jdks+=("temurin25:$t"); done
for entry in "${jdks[@]}"; do
  name=${entry%%:*}; home=${entry#*:}
  results+=("$(run java go "$home" "Java ($name) <-> wireguard-go")")
  results+=("$(run java java "$home" "Java ($name) <-> Java ($name)")")
  if [ "${ABLATION:-0}" = 1 ] && [ "$name" = default ]; then
    results+=("$(run java java "$home" "  same, TUN offload off" --offload false)")
    results+=("$(run java java "$home" "  same, crypto on two threads a path" --crypto-threads 2)")
  fi
done

reference=$(echo "${results[0]}" | cut -d'|' -f2)
printf '%-42s %10s %8s %14s\n' pair Mbit/s ratio "CPU s per GB"
for r in "${results[@]}"; do
  IFS='|' read -r label mbps cpu <<<"$r"
  printf '%-42s %10s %8.2f %14s\n' "$label" "$mbps" "$(awk -v m="$mbps" -v r="$reference" 'BEGIN { print m / r }')" "$cpu"
done
