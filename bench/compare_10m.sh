#!/usr/bin/env bash
# Two ceir builds compared on one generated month, alternated so that both see the same machine:
# operator import (fresh data directory with the TAC catalog only), first classification (state
# removed before each run), and a list import with and without the memberships copy (without it,
# the import reads every membership whole). Prints wall time and peak RSS of each run.
#
#   BEFORE=old/ceir AFTER=new/ceir SIM=DIR STORE_BEFORE=DATA1 STORE_AFTER=DATA2 \
#     bash bench/compare_10m.sh
#
# SIM is a `ceir simulate` output; STORE_* are data directories that bench/operator_pipeline.sh
# made with each binary (KEEP=1, WORK=…; the data directory is WORK/data). Their classification
# state and memberships copy are replaced by the runs. RUNS (5) classifications and IMPORTS (3)
# imports per binary.
set -euo pipefail
: "${BEFORE:?a ceir binary}" "${AFTER:?a ceir binary}" "${SIM:?a ceir simulate output}"
: "${STORE_BEFORE:?a data directory}" "${STORE_AFTER:?a data directory}"
RUNS=${RUNS:-5}
IMPORTS=${IMPORTS:-3}
FILE=$(ls "$SIM"/AZ/operators/*.csv | head -1)
TMP=$(mktemp -d /tmp/ceir-compare.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
declare -A BIN=([before]=$BEFORE [after]=$AFTER) STORE=([before]=$STORE_BEFORE [after]=$STORE_AFTER)
t() { /usr/bin/time -f "%e s %M KB" "$@" 2>&1 >"$TMP/out.txt" | tail -1; }

echo "== operator import (fresh directory with the TAC catalog only)"
for v in before after; do "${BIN[$v]}" --data "$TMP/$v-0" import tac "$SIM/gsma_tac_db.txt" >/dev/null; done
for i in $(seq "$IMPORTS"); do for v in before after; do
  rm -rf "$TMP/$v"; cp -a "$TMP/$v-0" "$TMP/$v"; sync
  echo "$v $i: $(t "${BIN[$v]}" --data "$TMP/$v" import operator "$FILE")"
done; done
du -sb "$TMP/before/observations" "$TMP/after/observations"

echo "== classify, first run"
for i in $(seq "$RUNS"); do for v in before after; do
  rm -rf "${STORE[$v]}/classification"
  echo "$v $i: $(t "${BIN[$v]}" --data "${STORE[$v]}" classify --date 2026-10-31) $(grep -E '^load' "$TMP/out.txt")"
done; done

echo "== import barred without the memberships copy (whole read), then with it"
for i in $(seq "$IMPORTS"); do for v in before after; do
  rm -f "${STORE[$v]}/cache/memberships.bin"
  echo "$v $i no copy: $(t "${BIN[$v]}" --data "${STORE[$v]}" import barred "$SIM/AZ/lists/barred.csv")"
  echo "$v $i copy:    $(t "${BIN[$v]}" --data "${STORE[$v]}" import barred "$SIM/AZ/lists/barred.csv")"
done; done
