#!/usr/bin/env bash
# The whole test suite, from a fresh machine: install the outside tools the
# end-to-end tests drive, build every binary, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages of the outside tools (real clients and protocol peers;
# systemd for `systemd-analyze security` on deploy/cpm-store.service, which
# tests/readme.rs runs: the package is installed, systemd is not started;
# iproute2 to bring up the loopback of the network namespace in which
# tests/readme.rs runs the README quickstart on the default ports;
# postgresql for the private cluster of the PostgreSQL engine's tests: only
# its binaries are used, by scripts/postgres.sh, no system service).
packages=(python3 curl openssl isync litmus rclone sip-tester systemd iproute2 postgresql)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq "${missing[@]}"
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq "${missing[@]}"
  fi
fi
# The HTTP client library of the NMS client script (tests/clients/nms_client.py).
python3 -c 'import requests' 2>/dev/null || python3 -m pip install -q requests
# The Prometheus text parser of tests/clients/parse_metrics.py (tests/observability.rs).
python3 -c 'import prometheus_client' 2>/dev/null || python3 -m pip install -q prometheus_client

cargo build --workspace --locked

# The dependency graph against deny.toml: licences, duplicate versions,
# sources, and the RustSec advisories. cargo-deny is built once (about 3
# minutes on 2 cores; there is no prebuilt binary without cargo-binstall).
command -v cargo-deny >/dev/null 2>&1 || cargo install cargo-deny --locked
cargo deny --locked check bans licenses sources
# The advisory database is fetched when the network allows (a git
# clone into ~/.cargo/advisory-dbs); offline, the copy fetched last time is
# used; with neither the advisory check is skipped, said so, not failed.
advisory_dbs="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs"
if timeout 120 cargo deny fetch db >/dev/null 2>&1; then
  cargo deny --locked --offline check advisories
elif compgen -G "$advisory_dbs/advisory-db-*/crates" >/dev/null; then
  echo "cargo deny: the advisory database could not be fetched; checking against the copy in $advisory_dbs"
  cargo deny --locked --offline check advisories
else
  echo "cargo deny: advisories SKIPPED: the RustSec database could not be fetched (offline?) and $advisory_dbs has no copy"
fi
# A short coverage-guided run of the fuzz targets of the parsers that read
# peer bytes (fuzz/: the IMAP reader and grammar, the SIP parser, the WebDAV
# XML reader), from their checked-in corpora. cargo-fuzz needs the nightly
# toolchain; without it the step is skipped. New inputs go to a scratch
# directory, so the checked-in corpora stay as they are.
fuzz_seconds="${FUZZ_SECONDS:-10}"
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
  for target in imap_reader sip_parser webdav_xml; do
    scratch="$(mktemp -d)"
    # libFuzzer logs every new input; keep its log unless the run fails.
    if (cd fuzz && cargo +nightly fuzz run "$target" "$scratch" "corpus/$target" \
      -- -max_total_time="$fuzz_seconds") >"$scratch.log" 2>&1; then
      echo "fuzz $target: $(grep -E '^Done [0-9]+ runs' "$scratch.log" || echo done)"
    else
      tail -n 60 "$scratch.log"
      echo "fuzz $target: FAILED (crash input and log above)"
      exit 1
    fi
    rm -rf "$scratch" "$scratch.log"
  done
else
  echo "fuzz: no nightly toolchain (rustup toolchain install nightly); skipping the fuzz run"
fi

# Dovecot's imaptest (vendored source, MIT), which tests/imaptest.rs runs
# against the binary: built once into the target directory.
tools/imaptest/build.sh "${CARGO_TARGET_DIR:-target}/imaptest"

# PostgreSQL (issue 20): a private cluster (scripts/postgres.sh: initdb in a
# temporary directory, loopback, a free port, trust authentication) for the
# PostgreSQL engine's tests (crates/store-core/tests/postgres.rs,
# tests/postgres_engine.rs), which read its URL from CPM_TEST_POSTGRES_URL
# and make a database each; stopped and removed at exit.
pg_dir=""
start_postgres() {
  pg_dir="$(mktemp -d)"
  CPM_TEST_POSTGRES_URL="$(scripts/postgres.sh start "$pg_dir")"
  export CPM_TEST_POSTGRES_URL
  # Its TLS certificate, for the engine's TLS test (verify-full).
  if [ -s "$pg_dir/ca.pem" ]; then
    export CPM_TEST_POSTGRES_CA="$pg_dir/ca.pem"
  fi
  echo "PostgreSQL test cluster at $CPM_TEST_POSTGRES_URL"
}
stop_postgres() {
  if [ -n "$pg_dir" ]; then
    scripts/postgres.sh stop "$pg_dir" || true
    rm -rf "$pg_dir"
  fi
}
trap stop_postgres EXIT
start_postgres

# S3 (issue 20): an S3-compatible test server, moto_server from PyPI, on
# loopback for the S3 blob backend's tests (crates/store-core/tests/s3.rs,
# tests/s3_blobs.rs), which read its URL from CPM_TEST_S3_ENDPOINT and make
# their own buckets; stopped at exit.
s3_pid=""
start_s3() {
  command -v moto_server >/dev/null 2>&1 || python3 -m pip install -q 'moto[server]'
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  s3_log="$(mktemp)"
  moto_server -H 127.0.0.1 -p "$port" >"$s3_log" 2>&1 &
  s3_pid=$!
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.2
  done
  curl -s -o /dev/null "http://127.0.0.1:$port/" || { cat "$s3_log"; echo "moto_server did not start"; exit 1; }
  export CPM_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
  echo "S3 test server (moto_server) at $CPM_TEST_S3_ENDPOINT"
}
stop_s3() {
  if [ -n "$s3_pid" ]; then kill "$s3_pid" 2>/dev/null || true; wait "$s3_pid" 2>/dev/null || true; fi
}
# Every server started for the tests is stopped by this one trap (add the
# others' stop functions here).
stop_test_servers() {
  stop_s3
  stop_postgres
}
trap stop_test_servers EXIT
start_s3

# The test suite last, so that its summary closes the output.
cargo test --workspace --locked

# The end-to-end suite a second time on the networked engines (issue 20):
# CPM_TEST_ENGINE=postgres-s3 gives every test server a database of its own
# on the PostgreSQL cluster above and a bucket of its own on moto_server
# (tests/src/lib.rs), so every end-to-end test also drives the binary on
# PostgreSQL + S3. The engines' own tests (crates/store-core/tests/
# postgres.rs, s3.rs), tests/postgres_engine.rs, tests/s3_blobs.rs and
# tests/cluster.rs run in the first pass. CPM_TEST_ENGINES=redb skips the
# second pass (a quicker local run).
case "${CPM_TEST_ENGINES:-redb,postgres-s3}" in
  redb) echo "CPM_TEST_ENGINES=redb: the second end-to-end pass on PostgreSQL + S3 is not run" ;;
  redb,postgres-s3)
    echo "The end-to-end suite again, on PostgreSQL + S3 (CPM_TEST_ENGINE=postgres-s3)"
    e2e_start=$SECONDS
    CPM_TEST_ENGINE=postgres-s3 cargo test -p e2e-tests --locked --no-fail-fast
    echo "The end-to-end suite on PostgreSQL + S3: $((SECONDS - e2e_start)) s"
    ;;
  *) echo "CPM_TEST_ENGINES=${CPM_TEST_ENGINES}: expected redb or redb,postgres-s3" >&2; exit 2 ;;
esac
