#!/usr/bin/env bash
# A cpm-store cluster on loopback for trials and tests (issue 20): several
# `cpm-store serve` nodes sharing one PostgreSQL database and one S3 bucket.
# Nothing outside DIR, no system service.
#
#   scripts/cluster.sh up DIR       start everything and write DIR/cluster.env
#   scripts/cluster.sh down DIR     stop everything `up DIR` started; DIR stays
#   scripts/cluster.sh status DIR   each node's /readyz; exit 0 when all are 200
#
# `up` starts, each on free loopback ports:
# - PostgreSQL: a private cluster, scripts/postgres.sh start DIR/pg, with a
#   database `cpm` (kept in DIR/pg across down and up);
# - S3: moto_server (PyPI `moto[server]`, installed with pip when missing)
#   with a bucket `cpm`, credentials testing/testing, region us-east-1. It
#   keeps objects in memory: they are gone after `down`, while the records
#   in PostgreSQL stay, so a second `up` of the same DIR has records whose
#   contents over 16 KiB are missing (use a new DIR for a clean cluster);
# - NODES nodes (default 3): DIR/nodeN/cpm-store.toml (checked with
#   `cpm-store check` first), data_dir DIR/nodeN/data (staging, admin token,
#   TLS certificate, preview cache), log DIR/nodeN/log, each listener on a
#   port of its own. They start one after the other; each must answer 200
#   on http://ADMIN/readyz within 60 s, or `up` prints its log tail, stops
#   what it started and fails.
# The binary is ${CPM_STORE:-target/release/cpm-store}; without CPM_STORE and
# without that file, it is built first (cargo build --release --locked -p
# supervisor).
#
# DIR/cluster.env has shell KEY=value lines (`. DIR/cluster.env`):
#   NODEn_IMAP NODEn_IMAPS NODEn_WEBDAV NODEn_WEBDAVS NODEn_NMS NODEn_NMSS
#   NODEn_SIP (SIP over TCP) NODEn_SIP_UDP NODEn_SIP_TLS NODEn_ADMIN
#                    listeners, host:port
#   NODEn_PID        the node's process
#   NODEn_CONFIG     its config file, for `cpm-store ... --config "$NODE1_CONFIG"`
#   NODEn_DATA       its data directory
#   NODES            how many nodes
#   PG_URL           the database, postgresql://USER@127.0.0.1:PORT/cpm
#   S3_ENDPOINT      http://127.0.0.1:PORT;  S3_BUCKET  cpm
#
# `down` sends SIGTERM to each node and to moto_server, by the PIDs `up`
# wrote (DIR/nodeN/pid, DIR/s3/pid) and only when that PID still runs what
# `up` started (its command line is checked), waits (20 s at most), then
# SIGKILL; then stops PostgreSQL (scripts/postgres.sh stop DIR/pg). Running
# it again, or on a DIR where `up` failed halfway, is harmless.
#
# As root, PostgreSQL runs as the `postgres` OS user (scripts/postgres.sh):
# DIR must be reachable by it, e.g. under /tmp.
set -euo pipefail

usage() {
  echo "usage: $0 up|down|status DIR   (env: NODES=1..9, default 3; CPM_STORE=path of the binary)" >&2
  exit 2
}
[ "$#" -eq 2 ] || usage
action="$1"
dir="$2"
repo="$(cd "$(dirname "$0")/.." && pwd)"

die() {
  echo "cluster.sh: $*" >&2
  exit 1
}

# Fails naming the Debian package when a command is missing.
need() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is missing; install the Debian package '$2'"
}

# Whether process $1 runs and its command line contains every further
# argument: a PID written by `up` may since have been reused by another
# process, which is then left alone.
runs() {
  local pid="$1" cmdline
  shift
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  for part in "$@"; do
    case "$cmdline" in
      *"$part"*) ;;
      *) return 1 ;;
    esac
  done
}

# SIGTERM to the processes whose PID files are given, each only if it still
# runs what its PID file says: an entry is "PIDFILE|PART|PART...", the
# parts its command line must contain. Waits for all of them, 20 s at
# most, then SIGKILL. Removes the PID files.
stop_pids() {
  local entry fields pidfile pid pids=() names=()
  for entry in "$@"; do
    IFS='|' read -ra fields <<<"$entry"
    pidfile="${fields[0]}"
    [ -s "$pidfile" ] || continue
    pid="$(cat "$pidfile")"
    if runs "$pid" "${fields[@]:1}"; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
      names+=("$pidfile")
    else
      rm -f "$pidfile"
    fi
  done
  [ "${#pids[@]}" -gt 0 ] || return 0
  local i left
  for _ in $(seq 1 100); do
    left=0
    for pid in "${pids[@]}"; do
      kill -0 "$pid" 2>/dev/null && left=1
    done
    [ "$left" = 0 ] && break
    sleep 0.2
  done
  for i in "${!pids[@]}"; do
    if kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "cluster.sh: ${pids[$i]} (${names[$i]}) still runs 20 s after SIGTERM; SIGKILL" >&2
      kill -KILL "${pids[$i]}" 2>/dev/null || true
    fi
    rm -f "${names[$i]}"
  done
}

# The node directories `up` made in DIR (node1, node2, ...), in order.
node_dirs() {
  local n=1
  while [ -d "$dir/node$n" ]; do
    echo "$dir/node$n"
    n=$((n + 1))
  done
}

down() {
  [ -d "$dir" ] || return 0
  local entries=() node
  while IFS= read -r node; do
    entries+=("$node/pid|serve|$node/cpm-store.toml")
  done < <(node_dirs)
  [ "${#entries[@]}" -eq 0 ] || stop_pids "${entries[@]}"
  stop_pids "$dir/s3/pid|moto_server"
  if [ -s "$dir/pg/pgdata/postmaster.pid" ]; then
    "$repo/scripts/postgres.sh" stop "$dir/pg"
  fi
}

# Prints "host:port" of one free loopback TCP port per argument (sockets
# held together, so the ports differ), one per line.
free_ports() {
  python3 -c '
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print("127.0.0.1:%d" % s.getsockname()[1])
' "$1"
}

# Waits for http://$2/readyz to answer 200 (60 s at most) while PID $1 runs;
# on failure prints the tail of log $3 and fails.
wait_ready() {
  local pid="$1" admin="$2" log="$3" code deadline=$((SECONDS + 60))
  while [ "$SECONDS" -lt "$deadline" ]; do
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$admin/readyz" || true)"
    [ "$code" = 200 ] && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$log" >&2 || true
      die "the node of $log exited before it was ready (log tail above)"
    fi
    sleep 0.2
  done
  tail -n 40 "$log" >&2 || true
  die "the node of $log did not answer 200 on http://$admin/readyz within 60 s (log tail above)"
}

up() {
  local nodes="${NODES:-3}"
  case "$nodes" in
    [1-9]) ;;
    *) die "NODES=$nodes: expected 1 to 9" ;;
  esac
  need python3 python3
  need curl curl
  need psql postgresql-client

  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  case "$dir" in
    *[\"\\\|]*) die "$dir: a DIR without quotes, backslashes or '|', please (it goes into TOML strings)" ;;
  esac
  if [ -s "$dir/cluster.env" ]; then
    local node
    while IFS= read -r node; do
      if [ -s "$node/pid" ] && runs "$(cat "$node/pid")" serve "$node/cpm-store.toml"; then
        die "$dir is up already (pid $(cat "$node/pid")); $0 down $dir first"
      fi
    done < <(node_dirs)
  fi
  # The postgres OS user (as root) must be able to reach DIR/pg.
  [ "$(id -u)" != 0 ] || chmod 0711 "$dir"
  rm -f "$dir/cluster.env"
  # What was started is stopped again when `up` fails.
  trap 'echo "cluster.sh: up failed; stopping what it started (logs stay in $dir)" >&2; down' EXIT

  local bin
  if [ -n "${CPM_STORE:-}" ]; then
    bin="$CPM_STORE"
    [ -x "$bin" ] || die "CPM_STORE=$bin is not an executable"
  else
    bin="$repo/target/release/cpm-store"
    if [ ! -x "$bin" ]; then
      echo "cluster.sh: $bin is missing; building it (cargo build --release --locked -p supervisor)" >&2
      (cd "$repo" && cargo build --release --locked -p supervisor)
    fi
  fi
  bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"

  # PostgreSQL and the database `cpm`.
  local server_url pg_url out
  server_url="$("$repo/scripts/postgres.sh" start "$dir/pg")"
  pg_url="${server_url%/postgres}/cpm"
  if ! out="$(psql "$server_url" -q -v ON_ERROR_STOP=1 -c 'CREATE DATABASE cpm' 2>&1)"; then
    case "$out" in
      *"already exists"*)
        echo "cluster.sh: database cpm exists from an earlier up of $dir: its records are kept, but contents over 16 KiB were in moto_server's memory and are gone" >&2
        ;;
      *) die "CREATE DATABASE cpm on $server_url: $out" ;;
    esac
  fi

  # moto_server and the bucket `cpm`.
  if ! command -v moto_server >/dev/null 2>&1; then
    echo "cluster.sh: moto_server is missing; installing the PyPI package 'moto[server]' (python3 -m pip install -q 'moto[server]')" >&2
    python3 -m pip install -q 'moto[server]' || die "cannot install the PyPI package 'moto[server]' (moto_server)"
    command -v moto_server >/dev/null 2>&1 || die "moto_server is still missing after installing 'moto[server]'; is pip's bin directory in PATH?"
  fi
  local s3 s3_port s3_endpoint
  s3="$(free_ports 1)"
  s3_port="${s3##*:}"
  s3_endpoint="http://$s3"
  mkdir -p "$dir/s3"
  setsid moto_server -H 127.0.0.1 -p "$s3_port" </dev/null >"$dir/s3/log" 2>&1 &
  echo $! >"$dir/s3/pid"
  disown $!
  local deadline=$((SECONDS + 30))
  while [ "$SECONDS" -lt "$deadline" ]; do
    curl -s -o /dev/null --max-time 2 "$s3_endpoint/" && break
    kill -0 "$(cat "$dir/s3/pid")" 2>/dev/null || break
    sleep 0.2
  done
  if ! curl -s -o /dev/null --max-time 2 "$s3_endpoint/"; then
    tail -n 30 "$dir/s3/log" >&2 || true
    die "moto_server did not answer on $s3_endpoint within 30 s (log tail above)"
  fi
  curl -sf -o /dev/null --max-time 10 -X PUT "$s3_endpoint/cpm" || die "cannot create the bucket cpm on $s3_endpoint"

  # The nodes.
  local env="" n node ports imap imaps webdav webdavs sip_udp sip_tcp sip_tls nms nmss admin pid
  for n in $(seq 1 "$nodes"); do
    node="$dir/node$n"
    mkdir -p "$node"
    # data_dir exists (0700) as `serve` leaves it, so that commands work
    # with the node down as well (only `serve` creates a missing one).
    mkdir -p "$node/data" && chmod 0700 "$node/data"
    mapfile -t ports < <(free_ports 10)
    imap="${ports[0]}" imaps="${ports[1]}" webdav="${ports[2]}" webdavs="${ports[3]}"
    sip_udp="${ports[4]}" sip_tcp="${ports[5]}" sip_tls="${ports[6]}"
    nms="${ports[7]}" nmss="${ports[8]}" admin="${ports[9]}"
    cat >"$node/cpm-store.toml" <<EOF
# Node $n of the loopback cluster of scripts/cluster.sh (deploy/cluster-node.toml
# explains each setting). Written by \`scripts/cluster.sh up $dir\`.
[store]
data_dir = "$node/data"
engine = "postgres"
postgres_url = "$pg_url"

[imap]
listen = ["$imap"]
listen_tls = ["$imaps"]

[webdav]
listen = ["$webdav"]
listen_tls = ["$webdavs"]

[sip]
listen_udp = ["$sip_udp"]
listen_tcp = ["$sip_tcp"]
listen_tls = ["$sip_tls"]

[nms]
listen = ["$nms"]
listen_tls = ["$nmss"]

[admin]
listen = ["$admin"]

[server]
shutdown_grace_seconds = 5

[blobs]
backend = "s3"
s3_endpoint = "$s3_endpoint"
s3_bucket = "cpm"
s3_region = "us-east-1"
s3_access_key_id = "testing"
s3_secret_access_key = "testing"
s3_allow_http = true
EOF
    if ! out="$("$bin" check --config "$node/cpm-store.toml" 2>&1)"; then
      echo "$out" >&2
      die "$bin check refuses $node/cpm-store.toml (above; an unknown key: is the binary older than the source? cargo build --release -p supervisor)"
    fi
    setsid "$bin" serve --config "$node/cpm-store.toml" </dev/null >"$node/log" 2>&1 &
    pid=$!
    echo "$pid" >"$node/pid"
    disown "$pid"
    wait_ready "$pid" "$admin" "$node/log"
    echo "node$n: ready (pid $pid): IMAP $imap, WebDAV $webdav, NMS $nms, SIP $sip_tcp, admin $admin"
    env+="$(printf 'NODE%d_%s=%q\n' \
      "$n" IMAP "$imap" "$n" IMAPS "$imaps" "$n" WEBDAV "$webdav" "$n" WEBDAVS "$webdavs" \
      "$n" NMS "$nms" "$n" NMSS "$nmss" "$n" SIP "$sip_tcp" "$n" SIP_UDP "$sip_udp" \
      "$n" SIP_TLS "$sip_tls" "$n" ADMIN "$admin" "$n" PID "$pid" \
      "$n" CONFIG "$node/cpm-store.toml" "$n" DATA "$node/data")"$'\n'
  done

  {
    printf '# scripts/cluster.sh up %q\n' "$dir"
    printf 'NODES=%d\n' "$nodes"
    printf 'PG_URL=%q\n' "$pg_url"
    printf 'S3_ENDPOINT=%q\n' "$s3_endpoint"
    printf 'S3_BUCKET=cpm\n'
    printf '%s' "$env"
  } >"$dir/cluster.env.tmp"
  mv "$dir/cluster.env.tmp" "$dir/cluster.env"
  trap - EXIT
  echo "PostgreSQL $pg_url, S3 $s3_endpoint bucket cpm; . $dir/cluster.env; stop with: $0 down $dir"
}

status() {
  [ -s "$dir/cluster.env" ] || die "$dir/cluster.env is missing: not up"
  local NODES n admin pid code state ok=0
  # shellcheck disable=SC1091
  . "$dir/cluster.env"
  for n in $(seq 1 "$NODES"); do
    admin="NODE${n}_ADMIN"
    pid="NODE${n}_PID"
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://${!admin}/readyz" || true)"
    if [ "$code" = 200 ]; then
      echo "node$n: ready (pid ${!pid}, admin ${!admin})"
    else
      kill -0 "${!pid}" 2>/dev/null && state="runs" || state="not running"
      echo "node$n: NOT ready: /readyz answered ${code:-nothing} (pid ${!pid} $state, admin ${!admin})"
      ok=1
    fi
  done
  return "$ok"
}

case "$action" in
  up) up ;;
  down)
    if [ -d "$dir" ]; then
      dir="$(cd "$dir" && pwd)"
      down
    fi
    ;;
  status)
    dir="$(cd "$dir" && pwd)"
    status
    ;;
  *) usage ;;
esac
