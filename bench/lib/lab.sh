# Sourced by the NAT-lab benchmarks (bin/cloudbridge-lab, root only): the lab's public side with its
# relay, and the helpers they share. Needs $cb (bin/cloudbridge), $lab (bin/cloudbridge-lab), $P
# (the lab's prefix) and $work (the benchmark's folder, one sub-folder per daemon).

# Runs a client command against daemon $1 (a sub-folder of $work): cloudbridge exec ...
ask() { local who=$1; shift; "$cb" exec --config "$work/$who/cloudbridge.yaml" --state "$work/$who/state" "$@" 2>/dev/null; }

# Seconds since the epoch, with nanoseconds.
now() { date +%s.%N; }

# Seconds since the epoch of the first JSON log line of $1 holding $2, or empty.
logtime() { grep -m1 -F "$2" "$1" 2>/dev/null | sed -n 's/^{"time":"\([^"]*\)".*/\1/p' | { read -r t && date -d "$t" +%s.%N; } || true; }

# Builds the lab afresh and starts its relay (198.51.100.1: control 7443, QUIC and TLS 8443) in
# $P-relay, with more YAML from stdin (</dev/null for none); sets relay_pid and writes a reusable pre-auth key of
# tenant "bench" to $work/key.
lab_relay() {
  "$lab" "$P" down 2>/dev/null || true
  "$lab" "$P" public
  mkdir -p "$work/relay"
  {
    printf 'relay:\n  listenAddress: 0.0.0.0\n  controlPort: 7443\n  jwksPort: 0\n'
    printf 'listeners:\n  address: 0.0.0.0\n  tlsPort: 8443\n  quicPort: 8443\n'
    cat
  } > "$work/relay/cloudbridge.yaml"
  ip netns exec "$P-relay" "$cb" relay --config "$work/relay/cloudbridge.yaml" --state "$work/relay/state" > "$work/relay/log" 2>&1 &
  relay_pid=$!
  for _ in $(seq 150); do ask relay relay:fingerprint >/dev/null && break; sleep 0.2; done
  ask relay relay:key create --tenant bench --reusable | tr -d '\r\n' > "$work/key"
}

# Writes the configuration of lab node $1 (a sub-folder of $work): a TUN device named $2 on UDP
# 51820, the lab's relay, the transports $3 (a YAML list's items); more YAML from stdin
# (</dev/null for none).
lab_node_config() {
  mkdir -p "$work/$1"
  {
    cat <<YAML
kernel:
  features: [core, shell, client]
wireguard:
  interfaceName: $2
  privateKeyFile: $work/$1/wg.key
  listenAddress: 0.0.0.0
  listenPort: 51820
  userspace: false
  uapiDirectory: ""
control:
  relay: 198.51.100.1:7443
  hostname: $1
  transports: [$3]
YAML
    cat
  } > "$work/$1/cloudbridge.yaml"
}
