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
MP=$(free_port) TP=$(free_port)
memcached -u nobody -l 127.0.0.1 -p "$MP" -U 0 -m 4096 -t 2 -c 4096 -I 2m &
MPID=$!
"$TARGET/release/tyrantd" --listen 127.0.0.1:$TP --data-dir "$TMP/db" --threads 2 --log-level warn &
TPID=$!
trap 'kill $MPID $TPID 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
wait_port "$MP"; wait_port "$TP"

declare -A R
for size in 1024 102400; do
    keys=$(( size > 10000 ? 2000 : 20000 ))
    for srv in memcached tyrantd; do
        port=$([ $srv = memcached ] && echo "$MP" || echo "$TP")
        for op in set get; do
            extra=(); [ $op = get ] && extra=(--prefill)
            line=$("$LOAD" --server 127.0.0.1:$port --op $op --value-size $size --keys $keys --conns "$CONNS" --secs "$SECS" --prefix "b$size" "${extra[@]}")
            echo "$srv $line"
            R[$srv,$op,$size]=$(echo "$line" | field ops_per_sec)
            R[$srv,$op,$size,p99]=$(echo "$line" | field p99_us)
        done
    done
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
    echo "| value | op | memcached ops/s | tyrantd ops/s | ratio | target | memcached p99 µs | tyrantd p99 µs |"
    echo "|---|---|---|---|---|---|---|---|"
    for size in 1024 102400; do
        for op in get set; do
            m=${R[memcached,$op,$size]} t=${R[tyrantd,$op,$size]}
            ratio=$(awk -v t="$t" -v m="$m" 'BEGIN { printf "%.2f", (m > 0 ? t / m : 0) }')
            target=$([ $op = get ] && echo "≥ 0.8" || echo "≥ 0.5")
            echo "| $((size / 1024)) KiB | $op | $m | $t | $ratio | $target | ${R[memcached,$op,$size,p99]} | ${R[tyrantd,$op,$size,p99]} |"
        done
    done
    echo
    echo "tyrantd RSS after the run: $((TRSS / 1048576)) MiB."
} >"$out"
cat "$out"
replace_section docs/benchmarks.md "<!-- kv:begin -->" "<!-- kv:end -->" "$out"
