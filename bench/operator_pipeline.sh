#!/usr/bin/env bash
# Issue 3's whole pipeline on DIRBS's reference shape, in one run: a generated one-operator,
# one-month dump of ROWS rows (10,000,000: ~1.4M IMEIs, ~1.7M distinct triplets), then
# the generated DIRBS lists (`ceir import stolen|registration|…`), `ceir import operator`,
# `ceir classify`, `ceir lists generate` (full, then a second run whose deltas are computed),
# and the observation store's size on disk. Each step is timed with
# /usr/bin/time -v (wall time and peak RSS).
#
#   bash bench/operator_pipeline.sh
#
# Environment: ROWS (10000000), WORK (a temporary directory), KEEP=1 to keep it,
# SIM (a `ceir simulate` output to use instead of generating one, e.g. the same month given to
# another system), CARGO_TARGET_DIR (default <repo>/target), CEIR (a ceir binary to use instead
# of building one).
#
# Dates are fixed as of the simulated month (classification and lists on 2026-10-31, as DIRBS's
# --curr-date 20261031), so runs compare whatever the day they are made.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROWS=${ROWS:-10000000}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=${WORK:-$(mktemp -d /tmp/ceir-pipeline.XXXXXX)}
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (GNU time)"; exit 1; }

if [ -z "${CEIR:-}" ]; then
  (cd "$ROOT" && cargo build --release -q -p ceir)
  CEIR=$TARGET/release/ceir
fi
DATA=$WORK/data

run() { # label, command...
  local label=$1; shift
  /usr/bin/time -v "$@" >"$WORK/out.txt" 2>"$WORK/time.txt" || { cat "$WORK/out.txt" "$WORK/time.txt"; exit 1; }
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/time.txt" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$WORK/time.txt")
  printf '%-28s %10s s %8s MiB\n' "$label" "$wall" "$rss"
}

SIM=${SIM:-$WORK/sim}
[ -d "$SIM/AZ/operators" ] || "$CEIR" simulate --out "$SIM" --country AZ --month 2026-10 --rows "$ROWS" --seed 1 > "$WORK/sim.txt"
FILE=$(ls "$SIM"/AZ/operators/*.csv | head -1)
ROWS=$(($(wc -l < "$FILE") - 1))
cat "$FILE" > /dev/null   # into the page cache
echo "file: $(basename "$FILE"), $ROWS rows, $(du -h "$FILE" | cut -f1)"
"$CEIR" --data "$DATA" import tac "$SIM/gsma_tac_db.txt" > /dev/null
printf '%-28s %12s %12s\n' step wall peak
for l in stolen registration pairing golden barred barred_tac monitoring; do
  run "import $l ($(($(wc -l < "$SIM/AZ/lists/$l.csv") - 1)) rows)" "$CEIR" --data "$DATA" import "${l/_/-}" "$SIM/AZ/lists/$l.csv"
done
run "import operator" "$CEIR" --data "$DATA" import operator "$FILE"
grep -E "rows [0-9]+|ACCEPTED" "$WORK/out.txt" | sed 's/^/    /'
run "classify" "$CEIR" --data "$DATA" classify --date 2026-10-31
grep -E "^load" "$WORK/out.txt" | sed 's/^/    /'
run "lists generate (first)" "$CEIR" --data "$DATA" lists generate --date 2026-10-31
grep -E "^blocklist" "$WORK/out.txt" | sed 's/^/    /'
run "classify (again)" "$CEIR" --data "$DATA" classify --date 2026-11-30
run "lists generate (delta)" "$CEIR" --data "$DATA" lists generate --date 2026-11-30
grep -E "^blocklist" "$WORK/out.txt" | sed 's/^/    /'
echo "observation store: $(du -sh "$DATA/observations" | cut -f1) ($(du -sb "$DATA/observations" | cut -f1) bytes)"
echo "classification state: $(du -sh "$DATA/classification" | cut -f1); lists: $(du -sh "$DATA/lists" | cut -f1)"
