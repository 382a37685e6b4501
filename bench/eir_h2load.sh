#!/usr/bin/env bash
# N5g-eir throughput and latency over HTTP/2 (h2c, prior knowledge) under h2load, against
# `ceir serve` and, in the same run, a minimal hyper server answering a constant JSON body
# (crates/ceir-http/examples/constant_server.rs). The servers are measured alternately,
# ceir/baseline/ceir/baseline..., with identical h2load parameters.
#
#   bash bench/eir_h2load.sh
#
# Environment (all optional):
#   IMEIS=1000000        blocked IMEIs loaded into the store (1000 TACs x IMEIS/1000 serials)
#   URIS=100000          distinct request URIs in the h2load input file (half hits, half misses)
#   REQUESTS=400000      requests per measured h2load run
#   CLIENTS=8 STREAMS=32 h2load -c / -m (one h2load thread)
#   ROUNDS=3             measured runs per server (>= 2)
#   PIN=1                pin each server to core 0 and h2load to core 1 with taskset (PIN=0: no pinning)
#   PORT_CEIR=28480 PORT_BASE=28481
#   KEEP=1               keep the temporary directory (store, logs) for inspection
#   LOAD_BIN=path        a ceir binary to load the store with (default: the one built here); the
#                        served binary is always the one built from this tree
#   CARGO_TARGET_DIR     build directory (default: <repo>/target)
#
# Needs: cargo, h2load (nghttp2-client), python3, taskset (util-linux) when PIN=1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMEIS=${IMEIS:-1000000}
URIS=${URIS:-100000}
REQUESTS=${REQUESTS:-400000}
CLIENTS=${CLIENTS:-8}
STREAMS=${STREAMS:-32}
ROUNDS=${ROUNDS:-3}
PIN=${PIN:-1}
PORT_CEIR=${PORT_CEIR:-28480}
PORT_BASE=${PORT_BASE:-28481}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

for tool in cargo h2load python3; do
    command -v "$tool" >/dev/null || { echo "error: $tool is required" >&2; exit 1; }
done
if [ "$PIN" = 1 ] && ! command -v taskset >/dev/null; then
    echo "error: taskset is required for PIN=1 (or run with PIN=0)" >&2
    exit 1
fi
if [ "$ROUNDS" -lt 2 ]; then
    echo "error: ROUNDS must be at least 2" >&2
    exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ceir-h2load.XXXXXX")
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "${KEEP:-0}" = 1 ]; then
        echo "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$PIN" = 1 ]; then
    SERVER_PIN=(taskset -c 0)
    CLIENT_PIN=(taskset -c 1)
else
    SERVER_PIN=()
    CLIENT_PIN=()
fi

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load average: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== building (release)"
# One cargo invocation, so both servers are built against the same dependency features.
(cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release --quiet -p ceir -p ceir-http --bin ceir --example constant_server)
CEIR=$TARGET/release/ceir
BASE=$TARGET/release/examples/constant_server

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
for p in "$PORT_CEIR" "$PORT_BASE"; do
    port_free "$p" || { echo "error: port $p is in use; set PORT_CEIR / PORT_BASE" >&2; exit 1; }
done

echo "== generating $IMEIS blocked IMEIs and $URIS request URIs"
# Deterministic: 1000 TACs (8 digits), IMEIS/1000 serials each. Loaded serials are even, misses
# odd, so a miss shares its TAC with listed devices but is itself on no list. Check digit: Luhn
# over the 14-digit body, doubling every second digit from the right starting with the rightmost.
python3 - "$WORK" "$IMEIS" "$URIS" "$PORT_CEIR" <<'PY'
import random, sys
work, n, uris, port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
TACS = 1000
per_tac = -(-n // TACS)

def luhn_sum(digits, double_first):
    s = 0
    for i, d in enumerate(reversed(digits)):
        if (i % 2 == 0) == double_first:
            d *= 2
            if d > 9:
                d -= 9
        s += d
    return s

def imei(tac, serial):
    body = f"{tac:08d}{serial:06d}"
    s = luhn_sum([int(c) for c in body], True)
    return body + str((10 - s % 10) % 10)

tacs = [35_000_000 + 7_919 * k for k in range(TACS)]
def loaded(t, j):   # j < per_tac; 794*j mod 1e6 is even and distinct for j < 500000
    return imei(tacs[t], (794 * j) % 1_000_000)
def missing(t, j):
    return imei(tacs[t], (794 * j + 1) % 1_000_000)

with open(f"{work}/blocked.txt", "w") as f:
    made = 0
    for t in range(TACS):
        rows = []
        for j in range(per_tac):
            if made == n:
                break
            rows.append(loaded(t, j))
            made += 1
        f.write("\n".join(rows) + "\n" if rows else "")

rng = random.Random(20240601)
picks = []
for k in range(uris):
    t = rng.randrange(TACS)
    j = rng.randrange(min(per_tac, n))
    picks.append(loaded(t, j) if k % 2 == 0 and t * per_tac + j < n else missing(t, j))
rng.shuffle(picks)
with open(f"{work}/uris.txt", "w") as f:
    for p in picks:
        f.write(f"http://127.0.0.1:{port}/n5g-eir-eic/v1/equipment-status?pei=imei-{p}\n")
PY

echo "== loading the store (SQLite, $WORK/data)"
start=$(date +%s.%N)
"${LOAD_BIN:-$CEIR}" --data "$WORK/data" list add blocked --file "$WORK/blocked.txt" --reason stolen 2>&1 | tail -n 1
end=$(date +%s.%N)
python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'   {int(sys.argv[3])} rows in {s:.1f} s ({int(sys.argv[3])/s:,.0f} rows/s)')" "$start" "$end" "$IMEIS"

wait_port() {
    local port=$1 pid=$2
    for _ in $(seq 1 600); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || { echo "error: server on port $port exited" >&2; return 1; }
        sleep 0.1
    done
    echo "error: nothing listens on port $port after 60 s" >&2
    return 1
}

echo "== starting servers (pinning: $([ "$PIN" = 1 ] && echo 'servers on core 0, h2load on core 1' || echo none))"
"${SERVER_PIN[@]}" "$CEIR" --data "$WORK/data" serve --listen "127.0.0.1:$PORT_CEIR" >"$WORK/ceir.log" 2>&1 &
PIDS+=($!)
wait_port "$PORT_CEIR" "${PIDS[-1]}"
"${SERVER_PIN[@]}" "$BASE" "$PORT_BASE" >"$WORK/base.log" 2>&1 &
PIDS+=($!)
wait_port "$PORT_BASE" "${PIDS[-1]}"

# Sanity: one hit and one miss through ceir.
hit=$(sed -n 1p "$WORK/blocked.txt")
if command -v curl >/dev/null; then
    echo "   hit:  $(curl -s --http2-prior-knowledge "http://127.0.0.1:$PORT_CEIR/n5g-eir-eic/v1/equipment-status?pei=imei-$hit")"
    echo "   base: $(curl -s --http2-prior-knowledge "http://127.0.0.1:$PORT_BASE/n5g-eir-eic/v1/equipment-status?pei=imei-$hit")"
fi

H2ARGS=(-n "$REQUESTS" -c "$CLIENTS" -m "$STREAMS" -t 1 -i "$WORK/uris.txt")

# run NAME PORT LABEL: one h2load run; appends "label rps p50_us p99_us" to results.
run() {
    local name=$1 port=$2 label=$3
    local out="$WORK/$label.out" log="$WORK/$label.log"
    "${CLIENT_PIN[@]}" h2load "${H2ARGS[@]}" --base-uri "http://127.0.0.1:$port" --log-file "$log" >"$out" 2>&1 || {
        cat "$out" >&2
        return 1
    }
    python3 - "$out" "$log" "$name" "$label" "$REQUESTS" >>"$WORK/results.txt" <<'PY'
import re, sys
out, log, name, label, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
text = open(out).read()
rps = float(re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", text).group(1))
m = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded", text)
if int(m.group(3)) != n:
    sys.exit(f"{label}: only {m.group(3)} of {n} requests succeeded:\n{text}")
if not re.search(rf"status codes: {n} 2xx", text):
    sys.exit(f"{label}: not every response was 2xx:\n{text}")
lat = sorted(int(line.split("\t")[2]) for line in open(log) if line.strip())
pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print(name, label, f"{rps:.0f}", pct(0.50), pct(0.99))
PY
    tail -n 1 "$WORK/results.txt" | awk '{printf "   %-10s %10s req/s  p50 %6d us  p99 %6d us\n", $2, $3, $4, $5}'
}

echo "== h2load ${H2ARGS[*]/$WORK\//} (h2c prior knowledge)"
: >"$WORK/results.txt"
echo "-- warm-up (not counted)"
run ceir "$PORT_CEIR" warmup-ceir
run baseline "$PORT_BASE" warmup-base
: >"$WORK/results.txt"
echo "-- measured"
for r in $(seq 1 "$ROUNDS"); do
    run ceir "$PORT_CEIR" "ceir-$r"
    run baseline "$PORT_BASE" "base-$r"
done
echo "   load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
python3 - "$WORK/results.txt" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
by = {}
for name, label, rps, p50, p99 in rows:
    by.setdefault(name, []).append((float(rps), int(p50), int(p99)))
print(f"{'server':<10} {'runs':>4} {'req/s (median)':>15} {'req/s (min..max)':>20} {'p50 us':>8} {'p99 us':>8}")
med = {}
for name in ("ceir", "baseline"):
    v = by[name]
    rps = [x[0] for x in v]
    med[name] = statistics.median(rps)
    print(f"{name:<10} {len(v):>4} {med[name]:>15,.0f} {f'{min(rps):,.0f}..{max(rps):,.0f}':>20} "
          f"{statistics.median(x[1] for x in v):>8.0f} {statistics.median(x[2] for x in v):>8.0f}")
ratio = med["ceir"] / med["baseline"]
print(f"\nceir / baseline throughput (medians): {ratio:.3f}  (target >= 0.8: {'met' if ratio >= 0.8 else 'MISSED'})")
PY
