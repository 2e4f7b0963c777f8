#!/usr/bin/env bash
# A private PostgreSQL cluster for tests and trials, with the binaries of
# Debian's `postgresql` package (/usr/lib/postgresql/*/bin): no system
# service, nothing outside DIR.
#
#   scripts/postgres.sh start DIR   initdb DIR/pgdata (first time), start it on
#                                   127.0.0.1 at a free port (the same one on
#                                   every later start: DIR/port), print its
#                                   URL and write it to DIR/url
#   scripts/postgres.sh stop DIR    stop it (fast shutdown); DIR stays
#
# With openssl installed the server also offers TLS, with a certificate for
# 127.0.0.1 and localhost signed by a test CA made once, whose certificate
# is DIR/ca.pem.
#
# The cluster listens on loopback TCP only (no Unix socket), with trust
# authentication for loopback connections of one database user named like
# the OS user that ran the script (`initdb -U "$(id -un)"`), which is also
# the user in the URL: postgresql://USER@127.0.0.1:PORT/postgres.
#
# As root: initdb and postgres refuse to run as root, so the cluster's files
# belong to, and the server runs as, the unprivileged `postgres` OS user of
# the Debian package (runuser -u postgres); the database superuser is still
# named `root`, so root's clients connect with the URL above. DIR must then
# be reachable by `postgres` (its parents searchable): DIR itself is made
# searchable (mode 0711) and DIR/pgdata is given to `postgres`.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop DIR" >&2
  exit 2
}
[ "$#" -eq 2 ] || usage
action="$1"
dir="$2"

bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "postgres.sh: no PostgreSQL server binaries in /usr/lib/postgresql/*/bin; install the Debian package 'postgresql'" >&2
  exit 1
fi

# Runs a server binary as the OS user that owns the cluster.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

data="$dir/pgdata"
case "$action" in
  start)
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    data="$dir/pgdata"
    user="$(id -un)"
    if [ ! -s "$data/PG_VERSION" ]; then
      mkdir -p "$data"
      if [ "$(id -u)" = 0 ]; then
        if ! getent passwd postgres >/dev/null; then
          echo "postgres.sh: running as root needs the 'postgres' OS user (Debian package 'postgresql')" >&2
          exit 1
        fi
        chmod 0711 "$dir"
        chown postgres: "$data"
        if ! runuser -u postgres -- test -w "$data"; then
          echo "postgres.sh: the 'postgres' OS user cannot reach $data (a parent directory is not searchable by others); use a DIR under /tmp" >&2
          exit 1
        fi
      fi
      chmod 0700 "$data"
      as_owner "$bindir/initdb" -D "$data" -U "$user" --auth=trust \
        --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
      }
    fi
    # A free loopback port, chosen by the kernel the first time and kept in
    # DIR/port, so that a restart (stop, then start) keeps the URL.
    if [ -s "$dir/port" ]; then
      port="$(cat "$dir/port")"
    else
      port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
      echo "$port" >"$dir/port"
    fi
    # TLS offered too (clients choose: sslmode); DIR/ca.pem is the test CA,
    # for clients that check (sslmode=verify-full&sslrootcert=DIR/ca.pem).
    ssl=()
    if command -v openssl >/dev/null 2>&1; then
      if [ ! -s "$data/server.key" ]; then
        # A test CA (its key is thrown away) signing the server's
        # certificate: an end-entity certificate must not be a CA's.
        tls_tmp="$(mktemp -d)"
        openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=cpm-store test CA" \
          -keyout "$tls_tmp/ca.key" -out "$tls_tmp/ca.pem" >/dev/null 2>&1
        openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
          -keyout "$data/server.key" -out "$tls_tmp/server.csr" >/dev/null 2>&1
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$tls_tmp/ext"
        openssl x509 -req -in "$tls_tmp/server.csr" -CA "$tls_tmp/ca.pem" -CAkey "$tls_tmp/ca.key" \
          -CAcreateserial -days 825 -extfile "$tls_tmp/ext" -out "$data/server.crt" >/dev/null 2>&1
        cp "$tls_tmp/ca.pem" "$data/ca.pem"
        rm -rf "$tls_tmp"
        chmod 0600 "$data/server.key"
        if [ "$(id -u)" = 0 ]; then
          chown postgres: "$data/server.key" "$data/server.crt" "$data/ca.pem"
        fi
      fi
      cp "$data/ca.pem" "$dir/ca.pem"
      ssl=(-c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key)
    fi
    as_owner "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='' -c fsync=on -c synchronous_commit=on ${ssl[*]}" \
      start >/dev/null || {
      tail -n 30 "$data/server.log" >&2 || true
      exit 1
    }
    url="postgresql://$user@127.0.0.1:$port/postgres"
    echo "$url" >"$dir/url"
    echo "$url"
    ;;
  stop)
    if [ -s "$data/postmaster.pid" ]; then
      as_owner "$bindir/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
    fi
    ;;
  *)
    usage
    ;;
esac
