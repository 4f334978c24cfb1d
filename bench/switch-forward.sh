#!/usr/bin/env bash
# The relay switch's cost per forwarded packet (bench/SwitchBench.java), two builds side by side:
# the switch at BEFORE (a commit; default: the one before the fair share) and the working tree's.
# Each case runs in its own JVM, alternating builds, ROUNDS times; threads 1 and 2 (sessions on one
# event loop, or on two sharing tenants), limits off and on (on: every limit finite, far above
# what the loop reaches, so the rate code runs in full and nothing is refused).
#
# Usage: bench/switch-forward.sh   (build first: ./mvnw -B -o -q -DskipTests package -pl bundles/relay -am)
#        BEFORE=<commit> ROUNDS=3 SECONDS_PER_CASE=5 WARMUP_SECONDS=3
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
before=${BEFORE:-$(git -C "$here" log --format=%H -1 --grep='fair share of the relay under load')~1}
rounds=${ROUNDS:-3}
seconds=${SECONDS_PER_CASE:-5}
warmup=${WARMUP_SECONDS:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cpfile="$work/cp"
(cd "$here" && ./mvnw -q -o dependency:build-classpath -pl bundles/relay -Dmdep.outputFile="$cpfile" >/dev/null)
classpath="$here/bundles/api/target/classes:$(cat "$cpfile")"

build() { # $1: name, $2: source folder of io/cloudbridge/relay/internal
  mkdir -p "$work/$1"
  javac -nowarn -d "$work/$1" -cp "$classpath" --release 17 \
    $(ls "$2"/{TenantSwitch,TokenBucket,ForwardingConfig,FairShare,MaxMinShare,ShareMeter}.java 2>/dev/null)
}
mkdir -p "$work/src-before"
git -C "$here" archive "$before" bundles/relay/src/main/java/io/cloudbridge/relay/internal | tar -x -C "$work/src-before"
build before "$work/src-before/bundles/relay/src/main/java/io/cloudbridge/relay/internal"
build after "$here/bundles/relay/src/main/java/io/cloudbridge/relay/internal"
javac -nowarn -d "$work/bench" -cp "$classpath" --release 17 "$here/bench/SwitchBench.java"

echo "before: $(git -C "$here" log --format='%h %s' -1 "$before" | cut -c1-80)"
echo "after:  working tree at $(git -C "$here" log --format=%h -1)"
echo "JDK: $(java -version 2>&1 | head -1); $(nproc) cores; ${seconds} s per case after ${warmup} s"
for limits in off on; do
  for threads in 1 2; do
    for round in $(seq 1 "$rounds"); do
      for build in before after; do
        printf '%-6s round %d: ' "$build" "$round"
        java -Xms256m -Xmx256m -XX:+UseSerialGC -cp "$work/bench:$work/$build:$classpath" \
          -Dorg.slf4j.simpleLogger.defaultLogLevel=warn SwitchBench "$limits" "$threads" "$seconds" "$warmup" 2>/dev/null
      done
    done
  done
done
