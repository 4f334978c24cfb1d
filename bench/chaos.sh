#!/usr/bin/env bash
# The chaos test's long run: a relay and two nodes in the namespace lab, a ping and a TCP transfer
# across the overlay, and ACTIONS (default 2,000) seeded random operator actions against the three
# daemons (ChaosTest in itests; CI runs 200 of them). SEED replays a run (the test prints the seed,
# and on a failure the action to stop at). Prints one line per action, the resources of each daemon
# process (baseline after warm-up -> last) and a summary; the daemons' logs are kept in
# itests/target/chaos-logs/.
#
# Needs root, ip, nft, iperf3. Build first: ./mvnw -B -DskipTests install
# Usage: sudo bench/chaos.sh      or      sudo ACTIONS=300 SEED=42 bench/chaos.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "needs root (network namespaces, TUN devices)" >&2; exit 1; }
# The test starts the daemons (and stops them); none from an earlier run may run beside them.
. "$here/bench/lib/daemons.sh"
refuse_if_daemons_running
args=(-Dchaos.actions="${ACTIONS:-2000}" -Dchaos.prefix=cbx)
# A new seed each run unless one is given (the test suite itself always runs its fixed seed).
args+=(-Dchaos.seed="${SEED:-$(od -An -N6 -tu8 /dev/urandom | tr -d ' ')}")
cd "$here"
./mvnw -B -q -o verify -pl itests -Dtest=ChaosTest -Dsurefire.failIfNoSpecifiedTests=false \
  -Dsurefire.timeout=0 "${args[@]}" || status=$?
cat itests/target/surefire-reports/io.cloudbridge.itest.ChaosTest-output.txt 2>/dev/null | grep -E '^chaos|^  ' || true
exit "${status:-0}"
