#!/usr/bin/env bash
# Building the in-memory status index from a store holding 10 million list entries, on SQLite
# and on PostgreSQL; and, on the way, the bulk import of those entries with `ceir list add`.
#
#   bash bench/index_build.sh
#
# What is measured, per backend:
#   - bulk import: `ceir list add blocked --file F --reason stolen` of all ENTRIES IMEIs in one
#     command (one transaction): wall time, rows/s, peak RSS (/usr/bin/time -v);
#   - index build: `hyperfine --warmup 1 --runs 5 'ceir check <IMEI>'`; `ceir check` opens the
#     store, builds the whole index from a snapshot, then answers, so its wall time bounds the
#     index build; plus its peak RSS;
#   - the "status index built ... ms=" figure that `ceir serve` logs at start-up.
# And, with the binary built here, the import rate of the first SAMPLE IMEIs into a fresh SQLite
# store (useful when LOAD_BIN is a different binary).
#
# Environment (all optional):
#   ENTRIES=10000000   IMEIs (4000 TACs x ENTRIES/4000 serials, deterministic)
#   SAMPLE=100000      rows of the sample SQLite import (0: skip)
#   BACKENDS="sqlite postgres"
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test
#   SCHEMA=bench_index the PostgreSQL schema used, dropped (CASCADE) before and after
#   PORT=28490         where `ceir serve` listens for the start-up measurement
#   LOAD_BIN=path      a ceir binary to run the bulk imports with (default: the one built here);
#                      index builds are always measured with the binary built from this tree
#   KEEP=1             keep the temporary directory
#   CARGO_TARGET_DIR   build directory (default: <repo>/target)
#
# Needs: cargo, python3, hyperfine, /usr/bin/time (Debian package `time`), psql for PostgreSQL.
# Disk: about 5 GB in $TMPDIR for SQLite (store, WAL, the IMEI file).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ENTRIES=${ENTRIES:-10000000}
SAMPLE=${SAMPLE:-100000}
BACKENDS=${BACKENDS:-sqlite postgres}
DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
SCHEMA=${SCHEMA:-bench_index}
PORT=${PORT:-28490}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

for tool in cargo python3 hyperfine; do
    command -v "$tool" >/dev/null || { echo "error: $tool is required" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "error: /usr/bin/time is required (apt-get install time)" >&2; exit 1; }
case " $BACKENDS " in
*" postgres "*) command -v psql >/dev/null || { echo "error: psql is required for the PostgreSQL part" >&2; exit 1; } ;;
esac
[[ $SCHEMA =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { echo "error: SCHEMA must be a plain identifier" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ceir-index.XXXXXX")
SERVER_PID=
PG_USED=0
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ "$PG_USED" = 1 ]; then
        psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
    fi
    if [ "${KEEP:-0}" = 1 ]; then
        echo "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(free -g | awk '/^Mem:/ {print $2}') GB RAM, load average: $(load)"

echo "== building (release)"
# The same cargo invocation as bench/eir_h2load.sh, so both benchmarks share one ceir binary.
(cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release --quiet -p ceir -p ceir-http --bin ceir --example constant_server)
CEIR=$TARGET/release/ceir
LOADER=${LOAD_BIN:-$CEIR}

echo "== generating $ENTRIES IMEIs"
# Deterministic: 4000 TACs (8 digits), ENTRIES/4000 distinct serials each. Check digit: Luhn over
# the 14-digit body, doubling every second digit from the right starting with the rightmost; the
# sum splits into TAC, serial-high and serial-low parts, precomputed.
start=$(date +%s.%N)
python3 - "$WORK/imeis.txt" "$ENTRIES" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
TACS = 4000
per_tac = -(-n // TACS)
assert per_tac <= 1_000_000

def dsum(d, double):
    if double:
        d *= 2
        if d > 9:
            d -= 9
    return d

def part(digits, first_doubled):
    # digits: most significant first; position 0 from the right of the body is doubled
    return sum(dsum(int(c), (len(digits) - 1 - i) % 2 == (0 if first_doubled else 1))
               for i, c in enumerate(digits))

# Body = TAC (positions 13..6 from the right) + serial (5..0). Serial low 3 digits sit at
# positions 2..0 (rightmost doubled); serial high 3 digits at 5..3 (position 5 not doubled).
lo = [part(f"{x:03d}", True) for x in range(1000)]
hi = [part(f"{x:03d}", False) for x in range(1000)]
tacs = [35_000_000 + 2_473 * k for k in range(TACS)]
tac_sum = [part(f"{t:08d}", True) for t in tacs]    # position 6 (TAC's last digit) is doubled

made = 0
with open(path, "w") as f:
    for k, t in enumerate(tacs):
        if made == n:
            break
        ts = tac_sum[k]
        rows = []
        # 7919 * j mod 1e6 is distinct for j < 1e6 (7919 is prime, coprime with 10)
        for j in range(min(per_tac, n - made)):
            s = (7_919 * j + k) % 1_000_000
            total = ts + hi[s // 1000] + lo[s % 1000]
            rows.append(f"{t:08d}{s:06d}{(10 - total % 10) % 10}")
        made += len(rows)
        f.write("\n".join(rows))
        f.write("\n")
PY
end=$(date +%s.%N)
PROBE=$(sed -n '1p' "$WORK/imeis.txt")
echo "   $(wc -l <"$WORK/imeis.txt") IMEIs ($(du -h "$WORK/imeis.txt" | cut -f1)) in $(python3 -c "print(f'{$end-$start:.1f}')") s; probe IMEI $PROBE"
# Spot-check the generator against ceir's own check-digit rule (ceir refuses the whole file
# otherwise, but only after reading it all).
python3 - "$WORK/imeis.txt" <<'PY'
import sys
def luhn_ok(imei):
    s = 0
    for i, c in enumerate(reversed(imei[:14])):
        d = int(c)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        s += d
    return (10 - s % 10) % 10 == int(imei[14])
with open(sys.argv[1]) as f:
    for i, line in enumerate(f):
        if i % 997 == 0 and not luhn_ok(line.strip()):
            sys.exit(f"bad check digit: {line.strip()}")
PY

RESULTS=$WORK/results.txt
: >"$RESULTS"
note() { echo "$*" | tee -a "$RESULTS"; }

# timed_import LABEL FILE ROWS CEIR-ARGS...: runs `list add` under /usr/bin/time -v.
timed_import() {
    local label=$1 file=$2 rows=$3 bin=$4
    shift 4
    local tv="$WORK/time-$label.txt"
    local la_before
    la_before=$(load)
    /usr/bin/time -v "$bin" "$@" list add blocked --file "$file" --reason stolen >"$WORK/import-$label.out" 2>"$tv" || {
        cat "$WORK/import-$label.out" "$tv" >&2
        return 1
    }
    python3 - "$tv" "$rows" "$label" "$la_before" "$(load)" "$(tail -n 1 "$WORK/import-$label.out")" <<'PY' | tee -a "$RESULTS"
import re, sys
text, rows, label, la0, la1, said = open(sys.argv[1]).read(), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
w = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", text)
secs = int(w.group(1) or 0) * 3600 + int(w.group(2)) * 60 + float(w.group(3))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
print(f"   import {label}: {rows} rows in {secs:.1f} s = {rows / secs:,.0f} rows/s, peak RSS {rss / 1024:,.0f} MiB"
      f" (load {la0} -> {la1}); ceir: {said}")
PY
}

# index_build LABEL CEIR-ARGS...: hyperfine over `ceir check`, peak RSS, and the serve log figure.
index_build() {
    local label=$1
    shift
    local la_before
    la_before=$(load)
    # hyperfine runs commands through a shell: quote every argument.
    local cmd
    cmd=$(printf '%q ' "$CEIR" "$@" check "$PROBE")
    if [ -n "${CEIR_DATABASE_SCHEMA:-}" ]; then
        cmd="CEIR_DATABASE_SCHEMA=$CEIR_DATABASE_SCHEMA $cmd"
    fi
    hyperfine --warmup 1 --runs 5 --style basic --export-json "$WORK/hf-$label.json" \
        --command-name "ceir check ($label)" "$cmd" >"$WORK/hf-$label.out" 2>&1 || {
        cat "$WORK/hf-$label.out" >&2
        return 1
    }
    local la_after
    la_after=$(load)
    /usr/bin/time -v "$CEIR" "$@" check "$PROBE" >"$WORK/check-$label.out" 2>"$WORK/check-time-$label.txt"
    python3 - "$WORK/hf-$label.json" "$WORK/check-time-$label.txt" "$label" "$la_before" "$la_after" <<'PY' | tee -a "$RESULTS"
import json, re, sys
r = json.load(open(sys.argv[1]))["results"][0]
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(sys.argv[2]).read()).group(1))
t = r["times"]
print(f"   index build {sys.argv[3]} (ceir check, hyperfine 5 runs): mean {r['mean']:.2f} s"
      f" +- {r['stddev']:.2f}, min {min(t):.2f}, max {max(t):.2f}; peak RSS {rss / 1024:,.0f} MiB"
      f" (load {sys.argv[4]} -> {sys.argv[5]})")
PY
    sed -n '2p' "$WORK/check-$label.out" | sed 's/^/   ceir check: /'

    # `ceir serve` logs how long the index took ("status index built ... ms=N").
    "$CEIR" "$@" serve --listen "127.0.0.1:$PORT" >"$WORK/serve-$label.log" 2>&1 &
    SERVER_PID=$!
    local ms=
    for _ in $(seq 1 1200); do
        ms=$(sed 's/\x1b\[[0-9;]*m//g' "$WORK/serve-$label.log" | sed -n 's/.*status index built.*ms=\([0-9]*\).*/\1/p' | head -n 1)
        [ -n "$ms" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
    if [ -z "$ms" ]; then
        cat "$WORK/serve-$label.log" >&2
        echo "error: ceir serve did not report the index build" >&2
        return 1
    fi
    note "   ceir serve ($label): status index built in $ms ms ($(sed 's/\x1b\[[0-9;]*m//g' "$WORK/serve-$label.log" | grep -o 'imeis=[0-9]*' | head -n 1))"
}

if [ "$SAMPLE" -gt 0 ]; then
    echo "== sample import: first $SAMPLE IMEIs into a fresh SQLite store, binary built here"
    head -n "$SAMPLE" "$WORK/imeis.txt" >"$WORK/sample.txt"
    timed_import sample-sqlite "$WORK/sample.txt" "$SAMPLE" "$CEIR" --data "$WORK/sample"
    rm -rf "$WORK/sample" "$WORK/sample.txt"
fi

for backend in $BACKENDS; do
    case $backend in
    sqlite)
        echo "== SQLite ($WORK/data)"
        ARGS=(--data "$WORK/data")
        unset CEIR_DATABASE_SCHEMA
        ;;
    postgres)
        echo "== PostgreSQL ($DATABASE_URL, schema $SCHEMA)"
        PG_USED=1
        psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1
        ARGS=(--database-url "$DATABASE_URL")
        export CEIR_DATABASE_SCHEMA=$SCHEMA
        ;;
    *)
        echo "error: unknown backend $backend" >&2
        exit 1
        ;;
    esac
    timed_import "$backend" "$WORK/imeis.txt" "$ENTRIES" "$LOADER" "${ARGS[@]}"
    if [ "$backend" = sqlite ]; then
        note "   store size: $(cd "$WORK/data" && du -h ceir.db* | tr '\t\n' '  ')"
    else
        psql "$DATABASE_URL" -qc "VACUUM ANALYZE $SCHEMA.list_entry" >/dev/null
        note "   store size: $(psql "$DATABASE_URL" -Atc "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '$SCHEMA' AND c.relkind = 'r'")"
    fi
    index_build "$backend" "${ARGS[@]}"
    if [ "$backend" = postgres ]; then
        psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1
        PG_USED=0
        unset CEIR_DATABASE_SCHEMA
    fi
done

echo
echo "== summary (target: index build <= 10 s)"
cat "$RESULTS"
