#!/usr/bin/env bash
# tyrantd vs memcached 1.6 side by side, same load tool (tyrant-load), same machine, one run.
# Writes the table into the "KV" section of docs/benchmarks.md (between the kv markers).
#   scripts/bench/kv.sh            # SECS=10 CONNS=32 by default
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/kv-common.sh
SECS=${SECS:-10} CONNS=${CONNS:-32}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
cargo build -q --release -p tyrant --bins
LOAD=$TARGET/release/tyrant-load
TMP=$(mktemp -d)
MP=$(free_port) TP=$(free_port) IP=$(free_port)
memcached -u nobody -l 127.0.0.1 -p "$MP" -U 0 -m 4096 -t 2 -c 4096 -I 2m &
MPID=$!
"$TARGET/release/tyrantd" --listen 127.0.0.1:$TP --data-dir "$TMP/db" --threads 2 --log-level warn &
TPID=$!
# The same daemon in periodic-sync mode (ttserver -uas equivalent), for reference.
"$TARGET/release/tyrantd" --listen 127.0.0.1:$IP --data-dir "$TMP/db2" --threads 2 --log-level warn --sync interval:100 &
IPID=$!
trap 'kill $MPID $TPID $IPID 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
wait_port "$MP"; wait_port "$TP"; wait_port "$IP"

# What the disk can do: a durable write can never beat one fdatasync.
DISK=$(python3 - "$TMP" <<'PY'
import os, sys, time
fd = os.open(os.path.join(sys.argv[1], "fsync.test"), os.O_WRONLY | os.O_CREAT)
t = time.time()
for _ in range(200): os.write(fd, b"x" * 1024); os.fdatasync(fd)
lat = (time.time() - t) / 200 * 1000
t = time.time()
for _ in range(50): os.write(fd, b"x" * (1 << 20)); os.fdatasync(fd)
print("fdatasync of 1 KiB: %.1f ms; 1 MiB write+fdatasync loop: %.0f MB/s" % (lat, 50 * 1.048576 / (time.time() - t)))
PY
)

declare -A R
run() { # name port op size conns
    local keys=$(( $4 > 10000 ? 2000 : 20000 )) extra=()
    [ "$3" = get ] && extra=(--prefill)
    line=$("$LOAD" --server 127.0.0.1:$2 --op $3 --value-size $4 --keys $keys --conns $5 --secs "$SECS" --prefix "b$4" "${extra[@]}")
    echo "$1 $line"
    R[$1,$3,$4,$5]=$(echo "$line" | field ops_per_sec)
    R[$1,$3,$4,$5,p99]=$(echo "$line" | field p99_us)
}
for size in 1024 102400; do
    for op in set get; do
        run memcached "$MP" $op $size "$CONNS"
        run tyrantd "$TP" $op $size "$CONNS"
    done
    run interval "$IP" set $size "$CONNS"
    # Durable writes scale with concurrency (group commit): same test with 8x the connections.
    run memcached "$MP" set $size $((CONNS * 8))
    run tyrantd "$TP" set $size $((CONNS * 8))
    run interval "$IP" set $size $((CONNS * 8))
done
TRSS=$(mc_stat "$TP" rss_bytes)

out=$TMP/section.md
{
    echo "## KV: tyrantd vs memcached (\`scripts/bench/kv.sh\`)"
    echo
    echo "Run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(uname -r); memcached $(memcached -V | cut -d' ' -f2) \`-t 2 -m 4096\`;"
    echo "tyrantd \`--threads 2\`, default durable mode (\`sync = \"always\"\`, group-committed fdatasync per write batch);"
    echo "load: \`tyrant-load --conns $CONNS --secs $SECS\` (1 thread, one request in flight per connection), all on the same 2 cores."
    echo
    echo "Disk: $DISK."
    echo
    echo "| value | op | conns | memcached ops/s | tyrantd ops/s (durable) | ratio | target | tyrantd \`interval:100\` ops/s | memcached p99 µs | tyrantd p99 µs |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for size in 1024 102400; do
        for oc in "get $CONNS" "set $CONNS" "set $((CONNS * 8))"; do
            set -- $oc; op=$1 c=$2
            m=${R[memcached,$op,$size,$c]} t=${R[tyrantd,$op,$size,$c]} i=${R[interval,$op,$size,$c]:--}
            ratio=$(awk -v t="$t" -v m="$m" 'BEGIN { printf "%.2f", (m > 0 ? t / m : 0) }')
            target=$([ $op = get ] && echo "≥ 0.8" || echo "≥ 0.5")
            echo "| $((size / 1024)) KiB | $op | $c | $m | $t | $ratio | $target | $i | ${R[memcached,$op,$size,$c,p99]} | ${R[tyrantd,$op,$size,$c,p99]} |"
        done
    done
    echo
    echo "tyrantd RSS after the run: $((TRSS / 1048576)) MiB."
} >"$out"
cat "$out"
replace_section docs/benchmarks.md "<!-- kv:begin -->" "<!-- kv:end -->" "$out"
