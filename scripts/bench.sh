#!/usr/bin/env bash
# The benchmark suite of issue 16, one command from a clean clone:
#
#   scripts/bench.sh [--quick]
#
# 1. Installs what is missing (Debian, as root): Dovecot (dovecot-imapd),
#    nginx with libnginx-mod-http-dav-ext, Apache (apache2), SIPp
#    (sip-tester), python3. Their distro services are left stopped: the
#    bench runs private instances under /tmp/cpm-bench.
# 2. Builds target/release/cpm-store and target/release/cpm-bench.
# 3. Runs the store-core criterion benches (cargo bench -p store-core).
# 4. Runs `cpm-bench all` against the release binary: fixtures, imap,
#    webdav, sip, append, memory, peers (Dovecot, nginx, Apache, SIPp
#    interleaved with cpm-store), then `report`.
#
# Writes BENCHMARKS.md (the machine, every table with its target and
# whether it is met) and target/bench-results/results.json.
# --quick: 1,000 messages and folders, few iterations, short loads (a
# smoke run). CPM_BENCH_SIZES (default 1000,10000,100000) and
# CPM_BENCH_FOLDERS (default 1000,10000) set the sizes. Fixtures are
# built once and cached in target/bench-fixtures. Ports 21400-21449 on
# 127.0.0.1. Run it on a quiet machine: it is a benchmark, not a test.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=()
for arg in "$@"; do
  case "$arg" in
    --quick) quick=(--quick) ;;
    *) echo "usage: scripts/bench.sh [--quick]" >&2; exit 2 ;;
  esac
done
if [ ${#quick[@]} -gt 0 ]; then
  export CPM_BENCH_QUICK=1
  export CPM_BENCH_SIZES="${CPM_BENCH_SIZES:-1000}"
  export CPM_BENCH_FOLDERS="${CPM_BENCH_FOLDERS:-1000}"
else
  export CPM_BENCH_SIZES="${CPM_BENCH_SIZES:-1000,10000,100000}"
  export CPM_BENCH_FOLDERS="${CPM_BENCH_FOLDERS:-1000,10000}"
fi
target="${CARGO_TARGET_DIR:-target}"

# 1. Peers and tools.
missing=()
services=()
command -v dovecot >/dev/null || { missing+=(dovecot-imapd); services+=(dovecot); }
command -v nginx >/dev/null || { missing+=(nginx); services+=(nginx); }
[ -e /usr/lib/nginx/modules/ngx_http_dav_ext_module.so ] || missing+=(libnginx-mod-http-dav-ext)
command -v apache2 >/dev/null || { missing+=(apache2); services+=(apache2); }
command -v sipp >/dev/null || missing+=(sip-tester)
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  # The distro services of what was just installed stay off.
  for service in "${services[@]}"; do
    systemctl disable --now "$service" 2>/dev/null || true
  done
fi

# 2. Release builds.
cargo build --release -p supervisor -p cpm-bench

# 3. store-core operations (criterion).
started=$(date +%s)
cargo bench -p store-core --bench store
echo "criterion benches: $(( $(date +%s) - started )) s"

# 4. The release binary and its peers; BENCHMARKS.md.
"$target/release/cpm-bench" all "${quick[@]}" \
  --sizes "$CPM_BENCH_SIZES" --folders "$CPM_BENCH_FOLDERS" --target "$target"
