#!/usr/bin/env bash
# `ceir import operator` end to end (read, check, deduplicate, write Parquet, publish, job
# record) on a generated one-operator, one-month dump in the benchmark shape of issue 3
# (10,000,000 rows, ~1.4M IMEIs, ~1.7M distinct triplets), timed with /usr/bin/time -v:
# wall time, rows/s and peak RSS. Each round imports into a fresh data directory; the file is
# read from the page cache after the first round.
#
#   bash bench/import_operator.sh
#
# Environment (all optional):
#   ROWS=10000000      rows in the generated file
#   ROUNDS=3           measured imports (fresh data directory each)
#   GZIP=0             1: also measure the same file gzip-compressed
#   BUDGET=            --triplet-budget (distinct triplets in memory before spilling runs)
#   WORK=/tmp/...      where the file and the data directories go (default: a temporary directory)
#   KEEP=1             keep WORK
#   CARGO_TARGET_DIR   build directory (default: <repo>/target)
#
# The file comes from `ceir simulate` when the binary has it, else from the small generator in
# crates/ceir-ingest/examples/gen_operator.rs (deterministic; same ROWS, same bytes).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROWS=${ROWS:-10000000}
ROUNDS=${ROUNDS:-3}
GZIP=${GZIP:-0}
BUDGET=${BUDGET:-}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=${WORK:-$(mktemp -d /tmp/ceir-import-bench.XXXXXX)}
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (GNU time)"; exit 1; }

echo "building (release)..." >&2
(cd "$ROOT" && cargo build --release -q -p ceir && cargo build --release -q -p ceir-ingest --example gen_operator)
CEIR=$TARGET/release/ceir
FILE=$WORK/azercell_20261001_20261031.csv
if [ ! -s "$FILE" ]; then
  if "$CEIR" simulate --help >/dev/null 2>&1; then
    echo "generating with ceir simulate..." >&2
    "$CEIR" simulate --out "$WORK/sim" --country AZ --month 2026-10 --rows "$ROWS" --seed 1 >&2
    FILE=$(ls "$WORK"/sim/azercell_*.csv | head -1)
  else
    echo "generating with gen_operator..." >&2
    "$TARGET/release/examples/gen_operator" "$FILE" "$ROWS"
  fi
fi
FILES=("$FILE")
if [ "$GZIP" = 1 ]; then
  gzip -k -f -1 "$FILE"
  FILES+=("$FILE.gz")
fi
cat "$FILE" > /dev/null   # into the page cache

printf '%-40s %6s %10s %12s %10s\n' file round wall_s rows_per_s peak_MiB
for f in "${FILES[@]}"; do
  for r in $(seq 1 "$ROUNDS"); do
    DATA=$WORK/data-$r
    rm -rf "$DATA"
    extra=()
    [ -n "$BUDGET" ] && extra=(--triplet-budget "$BUDGET")
    /usr/bin/time -v "$CEIR" --data "$DATA" import operator "${extra[@]}" "$f" >"$WORK/out.txt" 2>"$WORK/time.txt"
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/time.txt" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$WORK/time.txt")
    rate=$(awk -v rows="$ROWS" -v w="$wall" 'BEGIN { printf "%.0f", rows / w }')
    printf '%-40s %6s %10s %12s %10s\n' "$(basename "$f")" "$r" "$wall" "$rate" "$rss"
  done
  grep -E "ACCEPTED|distinct triplets" "$WORK/out.txt" >&2
done
du -sh "$WORK/data-1/observations" >&2
