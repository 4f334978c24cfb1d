#!/usr/bin/env bash
# Overlay TCP through the relay against the direct overlay, in the NAT lab (bin/cloudbridge-lab,
# root only), in one sitting. Three pairs of 'cloudbridge up' nodes, each behind its own NATs:
#
#   direct     eim-eif / eim-eif        hole punching succeeds: the overlay goes node to node
#   quic       apdm-apdf / apdm-apdf    symmetric NATs: the overlay goes through the relay over QUIC
#   websocket  udp-blocked / udp-blocked no UDP: the overlay goes through the relay over WebSocket
#
# For each, iperf3 runs SECONDS_PER_RUN (20) across the overlay (a -> b, one TCP stream), ROUNDS times
# (1), and reports, per run: mean Mbit/s, the slowest second, the number of seconds that delivered
# nothing, retransmitted segments as a share of those sent (iperf3's retransmits over bytes / MSS),
# the time until a second first reached 80 % of the steady rate (the median of the seconds after
# the fifth), and the CPU seconds per GB delivered of the sending node, the relay and the receiving
# node (utime+stime from /proc/PID/stat). Ratios against the direct pair in the same run, over the
# rounds after the first (a pair's first transfer runs on fresh JVMs): QUIC >= 0.5, WebSocket >= 0.3.
#
# Each node's counters of dropped packets (cb:paths) are printed after its runs.
#
# Usage: sudo bench/relayed-tcp.sh [DIST]   (SECONDS_PER_RUN=20 ROUNDS=1 PAIRS="direct quic websocket";
#        needs iperf3 and jq; build first: ./mvnw -B -DskipTests install; CLOUDBRIDGE_JAVA_OPTS
#        reaches every daemon's JVM, JAVA_HOME picks the JDK)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
dist=${1:-$here/runtime/target/cloudbridge}
seconds=${SECONDS_PER_RUN:-20}
rounds=${ROUNDS:-1}
pairs=${PAIRS:-"direct quic websocket"}
lab="$dist/bin/cloudbridge-lab"
cb="$dist/bin/cloudbridge"
P=cbt
[ "$(id -u)" = 0 ] || { echo "the NAT lab needs root" >&2; exit 1; }
[ -x "$lab" ] || { echo "no distribution at $dist; run ./mvnw -B -DskipTests install" >&2; exit 1; }
command -v iperf3 >/dev/null && command -v jq >/dev/null || { echo "needs iperf3 and jq (apt-get install iperf3 jq)" >&2; exit 1; }
. "$here/bench/lib/daemons.sh"
refuse_if_daemons_running

umask 077
work=$(mktemp -d)
BENCH_WORK=$work
pids=()
cleanup() {
  stop_all "${pids[@]}"
  "$lab" "$P" down 2>/dev/null || true
  rm -rf "$work"
}
trap_cleanup cleanup

cpu_ticks() { for p in "$@"; do awk '{printf "%d ", $14 + $15}' "/proc/$p/stat"; done; }
. "$here/bench/lib/lab.sh"

# No fair-share limits: a node may send 400 Mbit/s by default, and this measures the data path,
# not the policy (RELAY_LIMITS=1 keeps the defaults).
if [ "${RELAY_LIMITS:-0}" = 1 ]; then
  lab_relay < /dev/null
else
  # (a redirection, not a pipe: lab_relay sets relay_pid in this shell)
  lab_relay < <(printf 'forwarding:\n  nodePacketsPerSecond: 0\n  nodeBytesPerSecond: 0\n  tenantPacketsPerSecond: 0\n  tenantBytesPerSecond: 0\n  capacityPacketsPerSecond: 0\n  capacityBytesPerSecond: 0\n')
fi
pids+=("$relay_pid")

node_config() { # name transports -> config file
  lab_node_config "$1" "cbt$1" "$2" < <(printf 'ice:\n  checkTimeoutMillis: 2000\n')
}

up() { # name
  ip netns exec "$P-$1" "$cb" up --config "$work/$1/cloudbridge.yaml" --state "$work/$1/state" --pre-auth-key-file "$work/key" \
    > "$work/$1/log" 2>&1 &
  pids+=($!)
  echo $! > "$work/$1/pid"
  for _ in $(seq 300); do grep -q 'registered with the relay' "$work/$1/log" 2>/dev/null && return 0; sleep 0.1; done
  echo "node $1 did not register; its log:" >&2; tail -20 "$work/$1/log" >&2; exit 1
}

results="$work/results.tsv"
n=0
for pair in $pairs; do
  n=$((n + 1))
  case "$pair" in
    direct) nat=eim-eif; transports="quic://198.51.100.1:8443" ;;
    quic) nat=apdm-apdf; transports="quic://198.51.100.1:8443" ;;
    websocket) nat=udp-blocked; transports="wss://198.51.100.1:8443" ;;
    *) echo "unknown pair $pair" >&2; exit 2 ;;
  esac
  a="${pair:0:1}a"; b="${pair:0:1}b"
  node_config "$a" "$transports"; node_config "$b" "$transports"
  "$lab" "$P" nat "$a" $((2 * n - 1)) "$nat"
  "$lab" "$P" nat "$b" $((2 * n)) "$nat"
  up "$b"; up "$a"
  addr_b=$(ask "$b" cb:whoami | awk '/^address:/ {split($2, x, "/"); print x[1]}')
  # The path settles first: direct on both sides, or both sides given up on a direct one.
  for _ in $(seq 200); do
    if [ "$pair" = direct ]; then
      grep -qF '"message":"direct path to' "$work/$a/log" && grep -qF '"message":"direct path to' "$work/$b/log" && break
    else
      ip netns exec "$P-$a" ping -c 1 -W 1 "$addr_b" >/dev/null 2>&1 && [ "$pair" = websocket ] && break
      grep -qF '"message":"no direct path to' "$work/$a/log" && grep -qF '"message":"no direct path to' "$work/$b/log" && break
    fi
    sleep 0.1
  done
  ip netns exec "$P-$a" ping -c 3 -i 0.2 -W 2 "$addr_b" > /dev/null || { echo "$pair: no overlay ping" >&2; exit 1; }
  ip netns exec "$P-$b" iperf3 -s -D -1 --pidfile "$work/$b/iperf.pid" > /dev/null
  for r in $(seq "$rounds"); do
    sleep 0.5
    ip netns exec "$P-$b" iperf3 -s -D -1 --pidfile "$work/$b/iperf.pid" > /dev/null 2>&1 || true
    sleep 0.3
    before=$(cpu_ticks "$(cat "$work/$a/pid")" "$relay_pid" "$(cat "$work/$b/pid")")
    ip netns exec "$P-$a" iperf3 -c "$addr_b" -t "$seconds" -J > "$work/$pair.$r.json" || true
    after=$(cpu_ticks "$(cat "$work/$a/pid")" "$relay_pid" "$(cat "$work/$b/pid")")
    # CPU seconds per GB delivered: sender node, relay, receiving node.
    cpu=$(jq -r --arg before "$before" --arg after "$after" --argjson hz "$(getconf CLK_TCK)" '
      (.end.sum_received.bytes / 1e9) as $gb
      | [$before, $after | split(" ") | map(select(. != "") | tonumber)] as [$b, $a]
      | [range(0; 3) | (($a[.] - $b[.]) / $hz / $gb * 10 | round / 10 | tostring)] | join("/")' "$work/$pair.$r.json")
    jq -r --arg pair "$pair" --arg round "$r" --arg cpu "$cpu" '
      (.start.tcp_mss_default // 1380) as $mss
      | [.intervals[].sum.bits_per_second / 1e6] as $s
      | ($s[5:] | sort) as $steady
      | (if ($steady | length) > 0 then $steady[(($steady | length) / 2 | floor)] else 0 end) as $median
      | ([range(0; $s | length) | select($s[.] >= 0.8 * $median)] | first // -1) as $t80
      | [$pair, $round, (.end.sum_sent.bits_per_second / 1e6 | floor), ($s | min | floor), ([$s[] | select(. < 0.01)] | length),
         .end.sum_sent.retransmits, (.end.sum_sent.retransmits / ((.end.sum_sent.bytes / $mss) + 1) * 100 * 1000 | round / 1000),
         ($t80 + 1), $cpu, ($s | map(floor | tostring) | join(","))] | @tsv' "$work/$pair.$r.json" | tee -a "$results"
  done
  for who in "$a" "$b"; do echo "== $who cb:paths"; ask "$who" cb:paths || true; done
  [ -n "${KEEP_LOGS:-}" ] && { mkdir -p "$KEEP_LOGS"; cp "$work/$a/log" "$KEEP_LOGS/$a.log"; cp "$work/$b/log" "$KEEP_LOGS/$b.log"; cp "$work/relay/log" "$KEEP_LOGS/relay.log"; }
  echo "== relay relay:sessions"; ask relay relay:sessions || true
  # Datagrams the kernel dropped for want of socket buffer room, in each namespace of the pair.
  for ns in relay "$a" "$b"; do
    echo "== $ns UDP: $(ip netns exec "$P-$ns" nstat -az UdpRcvbufErrors UdpSndbufErrors Udp6RcvbufErrors 2>/dev/null | awk 'NR > 1 && $1 !~ /^#/ {printf "%s=%s ", $1, $2}')"
  done
done

echo
echo "Round 1 is each pair's first transfer (fresh daemons: the JIT compiler is still at work); the ratios"
echo "compare the later rounds (warm) when there are any. CPU s/GB: sender node / relay / receiving node."
printf '%-10s %5s %8s %8s %7s %8s %8s %6s %16s\n' PAIR ROUND MBIT/S SLOWEST STALLED RETRANS 'RETR %' 'TO80%' 'CPU s/GB'
awk -F'\t' '{ printf "%-10s %5s %8s %8s %7s %8s %8s %6s %16s\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }' "$results"
awk -F'\t' -v rounds="$rounds" '(rounds == 1 || $2 > 1) { sum[$1] += $3; cnt[$1]++ }
  END { if (cnt["direct"]) { d = sum["direct"] / cnt["direct"]
          for (p in sum) if (p != "direct") printf "%s / direct: %.2f (target %s)\n", p, sum[p] / cnt[p] / d, p == "quic" ? ">= 0.5" : ">= 0.3" } }' "$results"
