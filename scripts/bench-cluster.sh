#!/usr/bin/env bash
# The cluster benchmark of issue 20, one command:
#
#   scripts/bench-cluster.sh [--quick]
#
# APPEND throughput (8 and 32 clients; a ~0.7 KB chat message, and a 100 KB
# message whose content goes to the blob store) and FETCH latency (p50/p99
# of `UID FETCH n BODY[]`, 8 clients, a folder of 1,000) of the release
# cpm-store over IMAP, on:
#   1. one node on the embedded engine (redb), on ports 21400-21406;
#   2. one node on PostgreSQL + S3 (node 1 of the cluster; nodes 2, 3 idle);
#   3. three nodes on PostgreSQL + S3, clients round-robin over the nodes,
#      FETCH through nodes 2 and 3 of what was written through node 1.
# PostgreSQL + S3 is `scripts/cluster.sh up /tmp/cpm-bench/cluster` (a
# private PostgreSQL with fsync on, moto_server as S3, three nodes), started
# after the redb run and brought down at the end by cpm-bench.
#
# 1. Builds target/release/cpm-store and target/release/cpm-bench.
# 2. Runs `cpm-bench cluster`: the table on stderr and in
#    target/bench-results/cluster.md, the figures in
#    target/bench-results/results.json (section "cluster").
# --quick: 1 s loads instead of 5 s (a smoke run). Needs python3, curl,
# psql and the PostgreSQL server binaries (Debian: postgresql) and
# moto_server (PyPI moto[server]; scripts/cluster.sh installs it when
# missing). Run it on a quiet machine: it is a benchmark, not a test.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=()
for arg in "$@"; do
  case "$arg" in
    --quick) quick=(--quick) ;;
    *) echo "usage: scripts/bench-cluster.sh [--quick]" >&2; exit 2 ;;
  esac
done
target="${CARGO_TARGET_DIR:-target}"

for tool in python3 curl psql; do
  command -v "$tool" >/dev/null || { echo "bench-cluster.sh: '$tool' is missing" >&2; exit 1; }
done

cargo build --release --locked -p supervisor -p cpm-bench

"$target/release/cpm-bench" cluster "${quick[@]}" --target "$target"
