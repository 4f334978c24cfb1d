#!/usr/bin/env bash
# Issue 23's fairness bound: one relay daemon, tenant B measured idle and while tenant A floods
# (registrations, datagrams, look-ups under a silent name server, gateway handshakes, and all at
# once), in alternating rounds; B's p99 ping, registration and first CONNECT-UDP tunnel must stay
# within max(2 x idle, idle + 5 ms), and B is never refused. TenantFairnessRun in itests (the suite
# runs only TenantFairnessTest: B never refused). Prints each step's figures.
#
# Build first: ./mvnw -B -DskipTests install
# Usage: bench/fairness.sh      or      STEP=gatewayHandshakeFlood bench/fairness.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# The test starts the daemons (and stops them); none from an earlier run may run beside them.
. "$here/bench/lib/daemons.sh"
refuse_if_daemons_running
cd "$here"
test="TenantFairnessRun${STEP:+#$STEP}"
./mvnw -B -q -o verify -pl itests -Dtest="$test" -Dsurefire.failIfNoSpecifiedTests=false || status=$?
grep -E "^B's figures|^  (ping|registration|first tunnel) " itests/target/surefire-reports/io.cloudbridge.itest.TenantFairnessRun-output.txt 2>/dev/null || true
exit "${status:-0}"
