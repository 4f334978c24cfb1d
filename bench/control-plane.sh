#!/usr/bin/env bash
# The relay's control plane under load: registration rate and network-map fan-out, against a real
# relay daemon of the distribution ('bin/cloudbridge run' with the features core, shell, relay),
# driven over gRPC/TLS on loopback by bench/ControlPlaneBench.java (the JDK's single-file source
# launcher, with the itests module's test classpath: gRPC, Netty, the generated control API).
#
#   warm-up       WARM_NODES registrations (default 15000) in a tenant of their own, unmeasured: a
#                 relay that has been running, not the JIT compiler's first seconds (WARM_NODES=0: cold).
#   registration  NODES nodes (default 10000; random WireGuard keys, hostnames n0..) register in one
#                 tenant with one reusable pre-auth key, CONCURRENCY calls in flight (default 64)
#                 over one connection per 16 (the relay's limit per connection): registrations per second over the whole run (target >= 1000/s),
#                 call latency, the relay's CPU per registration.
#   fan-out       WATCHERS/4, WATCHERS/2 and WATCHERS of those nodes (default 1000) watch the map,
#                 each with its own node token, 16 to a connection (the relay's limit of calls per
#                 connection); each first receives its full map (NODES - 1 peers), FULLMAPS (default 8) watchers connecting at a time (FULLMAPS=1000:
#                 all at once, as after a relay restart). Then ROUNDS times (default 20, after WARMUP=5
#                 unmeasured) one node that is not watching sends a heartbeat with a new endpoint, and
#                 the relay sends the upsert to every watcher. Reported per watcher count: per-watcher
#                 delivery latency (p50, p99) from just before the heartbeat call, the time until ALL
#                 watchers have it (p50, p99; target p99 < 500 ms), first to last watcher (spread), and
#                 the relay's CPU time (utime+stime from /proc/PID/stat) per full map and per change;
#                 then what each added watcher costs a change: it should grow with the watchers, not
#                 with watchers x peers (a full map per watcher per change).
#
#   policy        with POLICY_RULES=N (default 0: none), an access policy of N rules is set on the tenant after
#                 the registrations (relay:policy set: parse, tests, compile against NODES members, store),
#                 and stays in force for the fan-out; after it, 5 new versions are set with the most watchers
#                 open: the time until each watcher has its new filter (p50, p99), and the filter's bytes in a map.
#
# Sizes come from the environment: WARM_NODES=15000 NODES=10000 WATCHERS=1000 ROUNDS=20 WARMUP=5 CONCURRENCY=64
# FULLMAPS=8 POLICY_RULES=0. RELAY_JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 runs the relay on that JDK.
# The relay runs as shipped (its -Xmx512m heap, H2 database); the client runs in its own JVM on
# the same machine. DATABASE=postgresql: the relay's database on a PostgreSQL server of the
# benchmark's own (bench/lib/postgres.sh: durable as shipped, on this machine's cores too).
#
# Usage: bench/control-plane.sh [DIST]   (DIST defaults to runtime/target/cloudbridge; build it
#        first: ./mvnw -B -DskipTests install)
#        quick check: WARM_NODES=2000 NODES=500 WATCHERS=50 ROUNDS=5 bench/control-plane.sh
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
dist=${1:-$here/runtime/target/cloudbridge}
nodes=${NODES:-10000}
watchers=${WATCHERS:-1000}
rounds=${ROUNDS:-20}
warmup=${WARMUP:-5}
concurrency=${CONCURRENCY:-64}
full_maps=${FULLMAPS:-8}
warm_nodes=${WARM_NODES:-15000}

[ -x "$dist/bin/cloudbridge" ] || { echo "no distribution at $dist; run ./mvnw -B -DskipTests install" >&2; exit 1; }
[ "$watchers" -lt "$nodes" ] || { echo "WATCHERS ($watchers) must be fewer than NODES ($nodes)" >&2; exit 1; }
. "$here/bench/lib/daemons.sh"
. "$here/bench/lib/postgres.sh"
refuse_if_daemons_running

cpfile=$(mktemp)
(cd "$here" && ./mvnw -q -o dependency:build-classpath -pl itests -Dmdep.outputFile="$cpfile" \
  -Dmdep.includeScope=test >/dev/null)
classpath=$(cat "$cpfile")
rm -f "$cpfile"

umask 077
work=$(mktemp -d)
BENCH_WORK=$work
relay_pid=
cleanup() {
  stop_all $relay_pid
  postgres_stop
  rm -rf "$work"
}
trap_cleanup cleanup

now_ms() { date +%s%3N; }

# Port 0: the relay takes a free port and says which in its log. Tokens live an hour, so that a
# long run's changing node keeps a valid token (the default is 15 minutes). The bench is one tenant
# enrolling 10,000 nodes with one key as fast as the relay goes, and opening 1,000 map streams at
# once: the per-tenant and per-key budgets are lifted so that it measures the relay's rate, not
# theirs; the queue holds everything the bench keeps in flight.
cat > "$work/cloudbridge.yaml" <<EOF
kernel:
  features: [core, shell, relay]
relay:
  listenAddress: 127.0.0.1
  controlPort: 0
  jwksPort: 0
  tokenLifetimeSeconds: 3600
  registrationsPerTenantPerMinute: 1000000
  registrationsPerPreAuthKeyPerMinute: 1000000
  mapOpensPerTenantPerMinute: 1000000
EOF
case "${DATABASE:-h2}" in
  h2) ;;
  postgresql) postgres_start "$work"; postgres_relay_section >> "$work/cloudbridge.yaml" ;;
  *) echo "DATABASE is h2 or postgresql, not ${DATABASE}" >&2; exit 2 ;;
esac

log=$work/relay.log
# The relay runs on the default JDK unless RELAY_JAVA_HOME names another (e.g. Temurin 25).
relay_env() {
  # exec: the background relay keeps the pid this shell recorded for it
  if [ -n "${RELAY_JAVA_HOME:-}" ]; then exec env JAVA_HOME="$RELAY_JAVA_HOME" "$@"; else exec env -u JAVA_HOME "$@"; fi
}
relay_env "$dist/bin/cloudbridge" run --config "$work/cloudbridge.yaml" --state "$work/state" >"$log" 2>&1 &
relay_pid=$!
deadline=$(( $(now_ms) + 60000 ))
until grep -q 'relay control service listening' "$log" 2>/dev/null; do
  [ "$(now_ms)" -lt "$deadline" ] || { echo "the relay did not listen within 60 s; log:" >&2; cat "$log" >&2; exit 1; }
  kill -0 "$relay_pid" 2>/dev/null || { echo "the relay died; log:" >&2; cat "$log" >&2; exit 1; }
  sleep 0.1
done
port=$(grep -o 'relay control service listening on [^ ]*' "$log" | head -1 | sed 's/.*://')
key=$(relay_env "$dist/bin/cloudbridge" exec --config "$work/cloudbridge.yaml" --state "$work/state" \
  relay:key create --tenant bench --reusable --expires 2h | tr -d '[:space:]')
[[ "$key" == cbk_* ]] || { echo "no pre-auth key: $key" >&2; exit 1; }
warm_key=$(relay_env "$dist/bin/cloudbridge" exec --config "$work/cloudbridge.yaml" --state "$work/state" \
  relay:key create --tenant bench-warm-up --reusable --expires 2h | tr -d '[:space:]')
[[ "$warm_key" == cbk_* ]] || { echo "no pre-auth key: $warm_key" >&2; exit 1; }

java_version=$(java -version 2>&1 | head -1 | sed 's/.*version "\([^"]*\)".*/\1/')
relay_jdk=$(tr '\0' ' ' < "/proc/$relay_pid/cmdline" | awk '{print $1}')
echo "relay pid $relay_pid on 127.0.0.1:$port; relay JDK $("$relay_jdk" -version 2>&1 | head -1 | sed 's/.*version "\([^"]*\)".*/\1/'), client JDK $java_version; $(nproc) cores"
echo "database ${DATABASE:-h2}${pg_url:+ ($pg_url)}"
echo "nodes $nodes, watchers $((watchers / 4)),$((watchers / 2)),$watchers, rounds $rounds (+$warmup warm-up), concurrency $concurrency, full maps in flight $full_maps"

status=0
java -Xms1g -Xmx4g -Dclk.tck="$(getconf CLK_TCK)" -cp "$classpath" "$here/bench/ControlPlaneBench.java" \
  --port "$port" --key "$key" --warm-key "$warm_key" --warm-nodes "$warm_nodes" --relay-pid "$relay_pid" --nodes "$nodes" \
  --watchers "$((watchers / 4)),$((watchers / 2)),$watchers" --rounds "$rounds" --warmup "$warmup" \
  --concurrency "$concurrency" --full-maps "$full_maps" --policy-rules "${POLICY_RULES:-0}" \
  --admin-socket "$work/state/admin.sock" || status=$?

if ! kill -0 "$relay_pid" 2>/dev/null; then
  echo "the relay died during the run; end of its log:" >&2
  tail -n 30 "$log" >&2
  relay_pid=
  exit 1
fi
errors=$(grep -c -E '"level":"(ERROR|WARN)"| ERROR | WARN ' "$log" || true)
if [ "$errors" -gt 0 ]; then
  echo "relay log: $errors warnings/errors; the first ones:" >&2
  grep -E '"level":"(ERROR|WARN)"| ERROR | WARN ' "$log" | head -n 5 >&2
fi
kill -TERM "$relay_pid"
wait "$relay_pid" || true
relay_pid=
exit "$status"
