#!/usr/bin/env bash
# The soak run: the chaos lab's relay and two nodes under steady load (a TCP transfer and a ping
# across the overlay) for MINUTES (default 30), a third node joining and leaving every minute (map
# churn) and alpha's QUIC transport swapped out and back every other minute. Every minute it
# records each daemon's RSS, heap after a full GC, threads, file descriptors and native memory
# (NMT), and fails on growth past the bounds stated in SoakRun after WARM_UP minutes (default 5).
# The curve is written to itests/target/soak-report.txt.
#
# Needs root, ip, nft, iperf3. Build first: ./mvnw -B -DskipTests install
# Usage: sudo bench/soak.sh      or      sudo MINUTES=60 bench/soak.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "needs root (network namespaces, TUN devices)" >&2; exit 1; }
# The test starts the daemons (and stops them); none from an earlier run may run beside them.
. "$here/bench/lib/daemons.sh"
refuse_if_daemons_running
cd "$here"
./mvnw -B -q -o verify -pl itests -Dtest=SoakRun -Dsurefire.failIfNoSpecifiedTests=false \
  -Dsoak.minutes="${MINUTES:-30}" -Dsoak.warmUpMinutes="${WARM_UP:-5}" || status=$?
cat itests/target/soak-report.txt 2>/dev/null || true
exit "${status:-0}"
