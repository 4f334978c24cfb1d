#!/usr/bin/env bash
# Cold start of 'bin/cloudbridge run' to "all bundles ACTIVE", and idle resident memory.
#
# For each JDK (the default 'java', and Temurin 25 when present under /usr/lib/jvm) the daemon is
# started RUNS times (default 5), each time with a fresh state folder (so the framework cache is
# empty: a cold start). Reported per JDK, as medians:
#   wall   from launching the script to the log line "runtime started" (every bundle started)
#   jvm    the launcher's own figure: JVM start to the same point
#   rss    VmRSS of the daemon after IDLE seconds (default 5) of idleness
#   stop   SIGTERM to process exit
# and each as a ratio against the targets of the runtime issue (start 1.5 s, idle RSS 120 MB).
#
# Usage: bench/startup.sh [DIST]   (DIST defaults to runtime/target/cloudbridge; build it first:
#        ./mvnw -B -DskipTests package)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
dist=${1:-$here/runtime/target/cloudbridge}
runs=${RUNS:-5}
idle=${IDLE:-5}
target_start_ms=1500
target_rss_kb=$((120 * 1024))

[ -x "$dist/bin/cloudbridge" ] || { echo "no distribution at $dist; run ./mvnw -B -DskipTests package" >&2; exit 1; }
. "$here/bench/lib/daemons.sh"
refuse_if_daemons_running
# Each run's daemon and state folder; stopped and removed on exit, also when interrupted.
work=
pid=
cleanup() {
  stop_all $pid
  [ -z "$work" ] || rm -rf "$work"
}
trap_cleanup cleanup

jdks=("default:")
for t in /usr/lib/jvm/temurin-25-jdk-*; do
  [ -x "$t/bin/java" ] && jdks+=("temurin25:$t")
done

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }
now_ms() { date +%s%3N; }

printf '%-10s %-22s %8s %8s %8s %8s %12s %12s\n' jdk version wall_ms jvm_ms rss_mb stop_ms start/target rss/target
for entry in "${jdks[@]}"; do
  name=${entry%%:*}
  home=${entry#*:}
  java_bin=${home:+$home/bin/}java
  version=$("$java_bin" -version 2>&1 | head -1 | sed 's/.*version "\([^"]*\)".*/\1/')
  walls=(); jvms=(); rsss=(); stops=()
  for i in $(seq "$runs"); do
    work=$(mktemp -d)
    BENCH_WORK=$work
    log=$work/daemon.log
    start=$(now_ms)
    if [ -n "$home" ]; then
      JAVA_HOME=$home "$dist/bin/cloudbridge" run --state "$work/state" >"$log" 2>&1 &
    else
      env -u JAVA_HOME "$dist/bin/cloudbridge" run --state "$work/state" >"$log" 2>&1 &
    fi
    pid=$!
    deadline=$(( $(now_ms) + 30000 ))
    until grep -q '"runtime started' "$log" 2>/dev/null; do
      [ "$(now_ms)" -lt "$deadline" ] || { echo "no start within 30 s; log:" >&2; cat "$log" >&2; kill "$pid"; exit 1; }
      kill -0 "$pid" 2>/dev/null || { echo "daemon died; log:" >&2; cat "$log" >&2; exit 1; }
      sleep 0.005
    done
    walls+=($(( $(now_ms) - start )))
    jvms+=($(grep -o 'startupMillis=[0-9]*' "$log" | head -1 | cut -d= -f2))
    grep -q 'failed=0' "$log" || { echo "a bundle failed to start; log:" >&2; cat "$log" >&2; kill "$pid"; exit 1; }
    sleep "$idle"
    rsss+=($(awk '/VmRSS/ {print $2}' "/proc/$pid/status"))
    t0=$(now_ms)
    kill -TERM "$pid"
    wait "$pid" || true
    stops+=($(( $(now_ms) - t0 )))
    pid=
    rm -rf "$work"
  done
  wall=$(printf '%s\n' "${walls[@]}" | median)
  jvm=$(printf '%s\n' "${jvms[@]}" | median)
  rss=$(printf '%s\n' "${rsss[@]}" | median)
  stop=$(printf '%s\n' "${stops[@]}" | median)
  awk -v n="$name" -v v="$version" -v w="$wall" -v j="$jvm" -v r="$rss" -v s="$stop" \
      -v ts="$target_start_ms" -v tr="$target_rss_kb" \
      'BEGIN { printf "%-10s %-22s %8d %8d %8.1f %8d %12.2f %12.2f\n", n, v, w, j, r / 1024, s, w / ts, r / tr }'
  echo "  runs: wall ${walls[*]} ms; jvm ${jvms[*]} ms; rss ${rsss[*]} kB; stop ${stops[*]} ms" >&2
done
