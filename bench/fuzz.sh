#!/usr/bin/env bash
# Coverage-guided fuzzing of every @FuzzTest target, one JVM per target (Jazzer fuzzes one target
# per process). Runs the Jazzer driver straight on each module's test class path: one Maven call
# for all class paths, then no Maven per target, so a short CI budget goes to fuzzing.
#
#   bench/fuzz.sh [FILTER]          FILTER: a regular expression over Class#method (default: all)
#   FUZZ_SECONDS=600                seconds per target (CI passes a short budget)
#   FUZZ_JOBS=1                     targets fuzzed at once
#   FUZZ_LIBRARIES=0                instrument only our own classes (faster start, less coverage)
#
# Prints per target: executions, exec/s, coverage (libFuzzer's cov: and ft:), corpus size and
# crashes. A crash's input is left in target/fuzz/<Class>/<method>/crash-*; copy it into the
# target's seed folder (src/test/resources/<package>/<Class>Inputs/<method>/) with the fix, and
# `./mvnw verify` replays it from then on. Exits 1 if any target crashed.
set -uo pipefail
cd "$(dirname "$0")/.."

FILTER="${1:-.}"
SECONDS_PER_TARGET="${FUZZ_SECONDS:-600}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"

# module  class  method...
TARGETS=(
  "bundles/wireguard io.cloudbridge.wireguard.internal.device.ReceivedDatagramFuzzTest datagram"
  "bundles/relay io.cloudbridge.relay.internal.StunBindingFuzzTest datagram"
  "bundles/ice io.cloudbridge.ice.internal.IceWireFuzzTest stunDatagram offer"
  "bundles/masque io.cloudbridge.masque.internal.WireFormatFuzzTest varInt capsuleStream httpDatagram addressCapsule routeCapsule ipHeader requestPath"
  "bundles/transport-quic io.cloudbridge.transport.quic.internal.ControlLineFuzzTest relayReads nodeReads"
  "bundles/transport-websocket io.cloudbridge.transport.websocket.internal.RelayFrameFuzzTest relayReads nodeReads"
  "bundles/control-relay io.cloudbridge.control.relay.internal.NodeTokenFuzzTest presentedToken"
  "bundles/filter io.cloudbridge.filter.internal.FilterFuzzTest packet storedFilter"
  "bundles/policy io.cloudbridge.policy.internal.PolicyFuzzTest policyFile"
  "launcher io.cloudbridge.boot.admin.AdminProtocolFuzzTest requests responses"
  "launcher io.cloudbridge.boot.config.ConfigFuzzTest yamlFile overrides"
  "launcher io.cloudbridge.boot.feature.FeatureFileFuzzTest featureFile"
)

# Library code a target's input runs through, instrumented for coverage as well (by default Jazzer
# instruments only the classes of the module's own folders, not the jars).
declare -A LIBRARIES=(
  [IceWireFuzzTest]="org.ice4j.**"
  [NodeTokenFuzzTest]="com.nimbusds.**"
  [ConfigFuzzTest]="org.snakeyaml.**"
  [PolicyFuzzTest]="org.snakeyaml.**"
  [FeatureFileFuzzTest]="org.snakeyaml.**"
  [ControlLineFuzzTest]="io.netty.handler.codec.**"
  [RelayFrameFuzzTest]="io.netty.handler.codec.**"
)

selected=()
modules=()
for t in "${TARGETS[@]}"; do
  read -r module class methods <<<"$t"
  for m in $methods; do
    if [[ "${class##*.}#$m" =~ $FILTER ]]; then
      selected+=("$module $class $m")
      [[ " ${modules[*]} " == *" $module "* ]] || modules+=("$module")
    fi
  done
done
if [ ${#selected[@]} -eq 0 ]; then
  echo "no target matches '$FILTER'" >&2
  exit 2
fi

list=$(IFS=,; echo "${modules[*]}")
# The class path comes from the same session as a compile of the modules and what they need, so
# that sibling modules resolve to their target/classes, not to a local repository that a fresh
# checkout's `verify` never filled (after a verify the compile finds nothing to do).
./mvnw -B -q test-compile dependency:build-classpath -pl "$list" -am -Dmdep.includeScope=test \
  -Dmdep.outputFile=target/fuzz-classpath >/dev/null || { echo "build or class path failed" >&2; exit 2; }

# One target: the driver in its own JVM, then its figures in $work/summary (and why, if it crashed).
fuzz_one() {
  local module=$1 class=$2 method=$3
  local simple="${class##*.}"
  local work="$module/target/fuzz/$simple/$method"
  rm -rf "$work/findings"
  mkdir -p "$work/corpus" "$work/findings"
  local seeds="$module/src/test/resources/$(dirname "${class//.//}")/${simple}Inputs/$method"
  local include="io.cloudbridge.**"
  if [ "${FUZZ_LIBRARIES:-1}" != 0 ]; then
    include="$include${LIBRARIES[$simple]:+:${LIBRARIES[$simple]}}"
  fi
  local cp="$module/target/test-classes:$module/target/classes:$(cat "$module/target/fuzz-classpath")"
  # -timeout: an input taking 10 s is a hang; -rss_limit_mb bounds the JVM on a shared 2-core machine.
  "$JAVA" -Xmx1g -cp "$cp" com.code_intelligence.jazzer.Jazzer \
    --target_class="$class" --target_method="$method" \
    --instrumentation_includes="$include" \
    -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=3072 -print_final_stats=1 \
    -artifact_prefix="$work/findings/" "$work/corpus" "$seeds" >"$work/log" 2>&1
  local status=$?
  local last execs rate cov ft corp crashes
  last=$(grep -E '^#[0-9]+' "$work/log" | tail -1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
  crashes=$(find "$work/findings" -type f | wc -l)
  {
    printf '%-42s %12s %9s %6s %7s %8s %s\n' "$simple#$method" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
      "${corp:-?}" "$crashes"
    if [ "$crashes" -gt 0 ] || { [ "$status" -ne 0 ] && [ -z "$execs" ]; }; then
      grep -m3 -E '== Java Exception|FuzzerSecurityIssue|Caused by|ERROR' "$work/log" | sed 's/^/    /'
      echo "    log: $work/log, inputs: $work/findings/"
      echo CRASHED
    fi
  } >"$work/summary"
}

# FUZZ_JOBS targets at a time (default 1: figures undisturbed; CI on its own 2 cores uses 2).
jobs_max="${FUZZ_JOBS:-1}"
for t in "${selected[@]}"; do
  read -r module class method <<<"$t"
  rm -f "$module/target/fuzz/${class##*.}/$method/summary"
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do
    wait -n
  done
  fuzz_one "$module" "$class" "$method" &
done
wait

crashed=0
printf '%-42s %12s %9s %6s %7s %8s %s\n' target execs exec/s cov ft corpus crashes
for t in "${selected[@]}"; do
  read -r module class method <<<"$t"
  summary="$module/target/fuzz/${class##*.}/$method/summary"
  grep -v '^CRASHED$' "$summary"
  grep -q '^CRASHED$' "$summary" && crashed=1
done
exit $crashed
