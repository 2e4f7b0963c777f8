#!/usr/bin/env bash
# The benchmark suite (issue 16), one command:
#   scripts/bench.sh [--quick]
# Runs the store-core criterion benches (crates/store-core/benches/store.rs)
# and writes their table, with the machine they ran on, into BENCHMARKS.md
# (between the store-core markers; the rest of the file is kept).
# --quick: 1,000 messages/folders only, few samples (a smoke run).
# CPM_BENCH_SIZES=1000,10000,100000 sets the sizes of a full run.
# Still to come (plan16.md, helper BENCH): the cpm-bench tool against the
# release binary (IMAP, WebDAV, SIP, APPEND, memory) and the peers.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    *) echo "usage: scripts/bench.sh [--quick]" >&2; exit 2 ;;
  esac
done
if [ "$quick" = 1 ]; then
  export CPM_BENCH_QUICK=1
  export CPM_BENCH_SIZES="${CPM_BENCH_SIZES:-1000}"
else
  export CPM_BENCH_SIZES="${CPM_BENCH_SIZES:-1000,10000}"
fi
target="${CARGO_TARGET_DIR:-target}"

started=$(date +%s)
cargo bench -p store-core --bench store
elapsed=$(( $(date +%s) - started ))

# The machine.
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
cores=$(nproc)
ram=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
kernel=$(uname -sr)
fs=$(findmnt -no FSTYPE -T "$target" 2>/dev/null || df -T "$target" | awk 'NR==2 {print $2}')
rustc=$(rustc -V)
rev=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- || echo "+dirty")
when=$(date -u '+%Y-%m-%d %H:%M UTC')

MACHINE="$cpu; $cores cores; $ram RAM; $kernel; $fs; $rustc; git $rev; $when" \
ELAPSED="$elapsed" TARGET="$target" python3 - <<'PY'
import json, os, pathlib, re

target = pathlib.Path(os.environ["TARGET"]) / "criterion"
sizes = [int(s) for s in os.environ["CPM_BENCH_SIZES"].split(",") if s.strip()]
rows = [
    ("messages", "noop_changes_since", "NOOP: changes since HIGHESTMODSEQ (nothing changed)"),
    ("messages", "changes_since_1000", "changes since a MODSEQ, 1,000 changed (QRESYNC)"),
    ("messages", "fetch_last_50", "FETCH of the last 50 (record + summary each)"),
    ("messages", "search_unseen", "SEARCH UNSEEN"),
    ("messages", "store_one_flag", "STORE of one message's flag (a durable commit)"),
    ("messages", "select", "SELECT"),
    ("folders", "list_all", 'list folders (`LIST "" "*"`)'),
    ("folders", "list_c0000%", 'list folders, then `c0000%` (9 matches)'),
]

def median(group, op, n):
    p = target / group / op / str(n) / "new" / "estimates.json"
    if not p.exists():
        return None
    return json.loads(p.read_text())["median"]["point_estimate"]

def fmt(ns):
    if ns is None:
        return "–"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e3:.0f} µs"

out = ["<!-- store-core:begin (scripts/bench.sh writes this part) -->",
       "## store-core operations (criterion, `cargo bench -p store-core`)",
       "",
       f"Machine: {os.environ['MACHINE']}. Run time: {os.environ['ELAPSED']} s.",
       "",
       "Medians. A message folder of size n holds about n messages after a history of",
       "as many expunged and two flag changes on each remaining one; the folder account",
       "holds n folders `c00001`… (`crates/store-core/benches/store.rs`).",
       "",
       "| operation | " + " | ".join(f"{n:,}" for n in sizes) + " |",
       "|---|" + "---|" * len(sizes)]
for group, op, label in rows:
    out.append(f"| {label} | " + " | ".join(fmt(median(group, op, n)) for n in sizes) + " |")
out.append("<!-- store-core:end -->")
section = "\n".join(out) + "\n"

path = pathlib.Path("BENCHMARKS.md")
text = path.read_text() if path.exists() else (
    "# Benchmarks\n\nThe latest results of `scripts/bench.sh` (issue 16).\n\n")
pattern = re.compile(r"<!-- store-core:begin.*?<!-- store-core:end -->\n", re.S)
text = pattern.sub(lambda _: section, text) if pattern.search(text) else text + section
path.write_text(text)
print(section)
PY
