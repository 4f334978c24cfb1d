#!/usr/bin/env bash
# Hole punching in the NAT lab (bin/cloudbridge-lab, root only): for each cell of NatLabTest's
# table, TRIES fresh tries (new NAT routers, so no connection-tracking state carries over; two
# new 'cloudbridge up' nodes): whether the pair ends direct, and the time from both nodes
# registered to the first direct path (the moment a node selects it and sends on it, from the
# nodes' JSON logs). In the cells that stay relayed: the time from the later registration to the
# first overlay ping answered through the relay, and from 'cloudbridge up' to that ping.
#
# The figures are reported against the issue's targets in the same run: direct share 1.0 where
# the table says direct (0 elsewhere), time-to-direct median < 2 s, first relayed ping < 1 s
# after registration.
#
# As in NatLabTest, a coturn STUN server (198.51.100.2) beside the relay's responder gives each node
# two STUN servers, so that it knows whether its NAT maps per destination. BIRTHDAY=0 turns
# birthday-paradox probing off (ice.birthdayProbing), to measure what it changes.
#
# Usage: sudo bench/nat-paths.sh [DIST]   (TRIES=20; CELLS="eim-apdf/eim-apdf apdm-apdf/apdm-apdf" narrows it;
#        BIRTHDAY=0|1 (1); KEEP_FAILED=DIR keeps the nodes' logs of tries not direct in the first round;
#        needs bc and coturn; build first: ./mvnw -B -DskipTests install)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
dist=${1:-$here/runtime/target/cloudbridge}
tries=${TRIES:-20}
cells=${CELLS:-"eim-eif/eim-eif eim-adf/eim-adf eim-apdf/eim-apdf apdm-apdf/eim-eif apdm-apdf/eim-adf adm-apdf/eim-adf adm-apdf/eim-apdf apdm-apdf/eim-apdf apdm-apdf/apdm-apdf udp-blocked/eim-eif"}
lab="$dist/bin/cloudbridge-lab"
cb="$dist/bin/cloudbridge"
P=cbb
[ "$(id -u)" = 0 ] || { echo "the NAT lab needs root" >&2; exit 1; }
[ -x "$lab" ] || { echo "no distribution at $dist; run ./mvnw -B -DskipTests install" >&2; exit 1; }
. "$here/bench/lib/daemons.sh"
refuse_if_daemons_running

umask 077
work=$(mktemp -d)
BENCH_WORK=$work
relay_pid=
stun_pid=
pid_a=
pid_b=
birthday=${BIRTHDAY:-1}
cleanup() {
  stop_all $relay_pid $stun_pid $pid_a $pid_b
  "$lab" "$P" down 2>/dev/null || true
  rm -rf "$work"
}
trap_cleanup cleanup

. "$here/bench/lib/lab.sh"

lab_relay < /dev/null
"$lab" "$P" server stun 198.51.100.2
ip netns exec "$P-stun" turnserver --stun-only -L 198.51.100.2 --no-cli --no-tls --no-dtls -n --log-file=stdout \
  --pidfile "$work/stun.pid" > "$work/stun.log" 2>&1 &
stun_pid=$!

node_config() { # name -> config file
  lab_node_config "$1" "cbn$1" "quic://198.51.100.1:8443, wss://198.51.100.1:8443" <<YAML
ice:
  checkTimeoutMillis: 3000
  stunServers: [198.51.100.2:3478]
  birthdayProbing: $([ "$birthday" = 1 ] && echo true || echo false)
YAML
}

results="$work/results.tsv"
: > "$results"
try=0
for cell in $cells; do
  natA=${cell%/*}; natB=${cell#*/}
  for i in $(seq "$tries"); do
    try=$((try + 1))
    a="a$try"; b="b$try"
    rm -rf "$work/$a" "$work/$b"
    node_config "$a"; node_config "$b"
    "$lab" "$P" nat "$a" 1 "$natA"
    "$lab" "$P" nat "$b" 2 "$natB"
    ip netns exec "$P-$b" "$cb" up --config "$work/$b/cloudbridge.yaml" --state "$work/$b/state" --pre-auth-key-file "$work/key" \
      > "$work/$b/log" 2>&1 &
    pid_b=$!
    for _ in $(seq 200); do grep -q 'registered with the relay' "$work/$b/log" 2>/dev/null && break; sleep 0.1; done
    # Tolerant: a node that did not come up is a row of its own, not the end of the run (set -e).
    addr_b=$(ask "$b" cb:whoami | awk '/^address:/ {split($2, x, "/"); print x[1]}' || true)
    if [ -z "$addr_b" ]; then
      printf '%s\t%s\tnot-up\t-\t-\t-\tno\n' "$natA" "$natB" | tee -a "$results"
      kill "$pid_b" 2>/dev/null || true; wait "$pid_b" 2>/dev/null || true; pid_b=
      "$lab" "$P" remove "$a" "$b"
      continue
    fi
    launched=$(now)
    ip netns exec "$P-$a" "$cb" up --config "$work/$a/cloudbridge.yaml" --state "$work/$a/state" --pre-auth-key-file "$work/key" \
      > "$work/$a/log" 2>&1 &
    pid_a=$!
    # First overlay ping answered, a -> b: tried every 50 ms from the launch.
    pinged=""
    deadline=$(( $(date +%s) + 30 ))
    while [ -z "$pinged" ] && [ "$(date +%s)" -lt "$deadline" ]; do
      if ip netns exec "$P-$a" ping -c 1 -W 0.05 "$addr_b" >/dev/null 2>&1; then pinged=$(now); else sleep 0.05; fi
    done
    # The outcome: a direct path on both sides within 10 s of the later registration (a first
    # round of checks that fails is retried after 1 s), or relayed. Where the table says relayed,
    # waiting for both nodes to give up their first round is enough.
    outcome=relay
    for _ in $(seq 120); do
      if grep -qF '"message":"direct path to' "$work/$a/log" && grep -qF '"message":"direct path to' "$work/$b/log"; then outcome=direct; break; fi
      # (With birthday probing, the cells it may turn direct wait the whole 12 s: it starts after the first round fails.)
      case "$birthday:$natA/$natB" in
        0:adm-apdf/eim-apdf|0:apdm-apdf/eim-apdf|*:apdm-apdf/apdm-apdf|*:udp-blocked/*)
          if grep -qF '"message":"no direct path to' "$work/$a/log" && grep -qF '"message":"no direct path to' "$work/$b/log"; then break; fi ;;
      esac
      sleep 0.1
    done
    # Whether the first round already found it (no "no direct path" before the first "direct path").
    first_round=no
    if [ "$outcome" = direct ] && ! grep -qF '"message":"no direct path to' "$work/$a/log" \
        && ! grep -qF '"message":"no direct path to' "$work/$b/log"; then first_round=yes; fi
    if [ -n "${KEEP_FAILED:-}" ] && { [ "$outcome" = relay ] || [ "$first_round" = no ]; }; then
      mkdir -p "$KEEP_FAILED/$try"; cp "$work/$a/log" "$KEEP_FAILED/$try/a.log"; cp "$work/$b/log" "$KEEP_FAILED/$try/b.log"
    fi
    reg=$(printf '%s\n%s\n' "$(logtime "$work/$a/log" 'registered with the relay')" "$(logtime "$work/$b/log" 'registered with the relay')" | sort -n | tail -1)
    first_direct=$(printf '%s\n%s\n' "$(logtime "$work/$a/log" '"message":"direct path to')" "$(logtime "$work/$b/log" '"message":"direct path to')" | grep . | sort -n | head -1 || true)
    to_direct=-; [ "$outcome" = direct ] && [ -n "$first_direct" ] && to_direct=$(echo "$first_direct - $reg" | bc)
    ping_after_reg=-; [ -n "$pinged" ] && ping_after_reg=$(echo "$pinged - $reg" | bc)
    ping_after_up=-; [ -n "$pinged" ] && ping_after_up=$(echo "$pinged - $launched" | bc)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$natA" "$natB" "$outcome" "$to_direct" "$ping_after_reg" "$ping_after_up" "$first_round" \
      | tee -a "$results"
    kill "$pid_a" "$pid_b" 2>/dev/null || true
    wait "$pid_a" "$pid_b" 2>/dev/null || true
    pid_a=; pid_b=
    ask relay relay:node delete "$(grep -m1 -o '"registered with the relay as node [^ ]*' "$work/$a/log" | awk '{print $NF}')" >/dev/null || true
    ask relay relay:node delete "$(grep -m1 -o '"registered with the relay as node [^ ]*' "$work/$b/log" | awk '{print $NF}')" >/dev/null || true
    "$lab" "$P" remove "$a" "$b"
  done
done

echo
echo "per cell, $tries tries each (times in seconds; median and p90):"
awk -F'\t' '
  function sorted(list, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && list[j-1] > list[j]; j--) { t = list[j]; list[j] = list[j-1]; list[j-1] = t } }
  function q(list, n, p) { return n == 0 ? "-" : sprintf("%.2f", list[int((n - 1) * p) + 1]) }
  { key = $1 " x " $2; order[key] = order[key] ? order[key] : ++cells; names[order[key]] = key; total[key]++
    if ($7 == "yes") first[key]++
    if ($3 == "direct") { direct[key]++; d[key, ++nd[key]] = $4 } else if ($5 != "-") { r[key, ++nr[key]] = $5; u[key, ++nu[key]] = $6 } }
  END {
    printf "%-24s %8s %12s %14s %14s %22s %20s\n", "CELL", "DIRECT", "1ST ROUND", "TO DIRECT p50", "TO DIRECT p90", "RELAYED PING p50/p90", "FROM UP p50/p90"
    for (c = 1; c <= cells; c++) { k = names[c]
      n = nd[k]; delete x; for (i = 1; i <= n; i++) x[i] = d[k, i]; sorted(x, n); p50 = q(x, n, 0.5); p90 = q(x, n, 0.9)
      m = nr[k]; delete y; for (i = 1; i <= m; i++) y[i] = r[k, i]; sorted(y, m)
      delete z; for (i = 1; i <= m; i++) z[i] = u[k, i]; sorted(z, m)
      printf "%-24s %5d/%-2d %9d/%-2d %14s %14s %22s %20s\n", k, direct[k], total[k], first[k], total[k], p50, p90, q(y, m, 0.5) "/" q(y, m, 0.9), q(z, m, 0.5) "/" q(z, m, 0.9) }
  }' "$results"
