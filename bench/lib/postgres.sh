# Sourced by the benchmarks that run a relay on a PostgreSQL server (DATABASE=postgresql): a server
# of their own from the distribution's binaries, in a folder under the benchmark's work folder, on a
# free port of 127.0.0.1, with password authentication as a relay signs in; as root it belongs to
# nobody (PostgreSQL refuses root), in a folder of its own under /tmp (nobody cannot enter the
# benchmark's owner-only work folder). Durable as shipped (fsync and synchronous commits on), so that a
# figure is what an operator's server gives. The caller stops it with postgres_stop (in its cleanup).

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true) # (none: only DATABASE=postgresql needs it)
pg_folder=

# As the server's owner: nobody when root, else the caller.
pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; else "$@"; fi
}

# postgres_start WORK: sets pg_url (a new database), pg_user, and pg_password_file and
# pg_fleet_key_file (the relay's copies, in WORK).
postgres_start() {
  [ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || { echo "no PostgreSQL server here: apt-get install postgresql" >&2; exit 1; }
  local work=$1
  pg_folder=$(mktemp -d /tmp/cloudbridge-pg.XXXXXX)
  local port password
  port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
  password=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  echo "$password" > "$pg_folder/password"
  [ "$(id -u)" = 0 ] && chown -R 65534:65534 "$pg_folder"
  chmod 700 "$pg_folder"
  pg_as_owner "$pg_bin/initdb" -D "$pg_folder/data" -U cloudbridge --pwfile "$pg_folder/password" \
    --auth-host=scram-sha-256 --auth-local=trust -E UTF8 --locale=C > "$pg_folder/initdb.log" 2>&1 \
    || { cat "$pg_folder/initdb.log" >&2; exit 1; }
  pg_as_owner "$pg_bin/pg_ctl" -D "$pg_folder/data" -l "$pg_folder/server.log" -w -t 60 \
    -o "-p $port -k $pg_folder -c listen_addresses=127.0.0.1" start > /dev/null \
    || { cat "$pg_folder/server.log" >&2; exit 1; }
  pg_as_owner "$pg_bin/psql" -q -h "$pg_folder" -p "$port" -U cloudbridge -d postgres -c 'CREATE DATABASE relay' >/dev/null
  pg_url="jdbc:postgresql://127.0.0.1:$port/relay"
  pg_user=cloudbridge
  # The relay's copies, owner-only (it refuses secrets others can read).
  pg_password_file=$work/database.password
  pg_fleet_key_file=$work/fleet.key
  (umask 077; echo "$password" > "$pg_password_file"; head -c 32 /dev/urandom | base64 > "$pg_fleet_key_file")
}

# The relay's database section for the server postgres_start made.
postgres_relay_section() {
  printf 'database:\n  url: %s\n  user: %s\n  passwordFile: %s\n  fleetKeyFile: %s\n' \
    "$pg_url" "$pg_user" "$pg_password_file" "$pg_fleet_key_file"
}

postgres_stop() {
  [ -n "$pg_folder" ] && [ -d "$pg_folder" ] || return 0
  [ ! -d "$pg_folder/data" ] || pg_as_owner "$pg_bin/pg_ctl" -D "$pg_folder/data" -m fast -w stop > /dev/null 2>&1 || true
  rm -rf "$pg_folder"
}
