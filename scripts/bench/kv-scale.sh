#!/usr/bin/env bash
# Scale run (not CI): fill tyrantd with 100 KiB values up to TOTAL_GB, and at each milestone in
# MARKS report write throughput of the last GiB, random-get throughput and tyrantd's RSS.
# Writes the table into the "kv-scale" section of docs/benchmarks.md.
#   TOTAL_GB=30 MARKS="1 10 20 30" DATA=/big/disk/dir scripts/bench/kv-scale.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/kv-common.sh
TOTAL_GB=${TOTAL_GB:-30} MARKS=${MARKS:-"1 10 20 30"} SIZE=${SIZE:-102400} CONNS=${CONNS:-16}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
DATA=${DATA:-$(mktemp -d)}
mkdir -p "$DATA"
need=$((TOTAL_GB * 1100))
avail=$(df -Pm "$DATA" | awk 'NR==2 { print $4 }')
if [ "$avail" -lt "$need" ]; then echo "need ${need} MiB free in $DATA, have ${avail}" >&2; exit 1; fi
cargo build -q --release -p tyrant --bins
LOAD=$TARGET/release/tyrant-load
TP=$(free_port)
"$TARGET/release/tyrantd" --listen 127.0.0.1:$TP --data-dir "$DATA/db" --threads 2 --log-level warn &
TPID=$!
trap 'kill $TPID 2>/dev/null; wait 2>/dev/null; rm -rf "$DATA/db"' EXIT
wait_port "$TP"
per_gb=$(( (1 << 30) / SIZE ))
out=$(mktemp)
{
    echo "## KV scale run (\`scripts/bench/kv-scale.sh\`)"
    echo
    echo "Run $(date -u +%Y-%m-%dT%H:%MZ): TOTAL_GB=$TOTAL_GB, ${SIZE}-byte values, $CONNS connections, durable mode."
    echo
    echo "Set rates are the median of the last 3 GiB filled (each GiB takes about a second, so one alone is noisy)."
    echo
    echo "| filled | set ops/s (median of last 3 GiB) | set MB/s | get ops/s (random keys of GiB 1, N/2 and N) | tyrantd RSS MiB |"
    echo "|---|---|---|---|---|"
} >"$out"
declare -a OPS MBS
median3() { # median3 ARRAY-NAME GB
    local -n a=$1
    local from=$(( $2 > 2 ? $2 - 2 : 1 ))
    for i in $(seq "$from" "$2"); do echo "${a[$i]}"; done | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
}
for gb in $(seq 1 "$TOTAL_GB"); do
    line=$("$LOAD" --server 127.0.0.1:$TP --fill --value-size "$SIZE" --keys "$per_gb" --conns "$CONNS" --prefix "g$gb")
    OPS[$gb]=$(echo "$line" | field ops_per_sec) MBS[$gb]=$(echo "$line" | field mb_per_sec)
    for m in $MARKS; do
        if [ "$m" = "$gb" ]; then
            # Random gets across every chunk written so far (prefix chosen per connection run).
            g=0 n=0
            for p in 1 $((gb / 2 > 0 ? gb / 2 : 1)) "$gb"; do
                gl=$("$LOAD" --server 127.0.0.1:$TP --op get --value-size "$SIZE" --keys "$per_gb" --conns "$CONNS" --secs 5 --prefix "g$p")
                g=$((g + $(echo "$gl" | field ops_per_sec))); n=$((n + 1))
            done
            rss=$(( $(mc_stat "$TP" rss_bytes) / 1048576 ))
            row="| ${gb} GiB | $(median3 OPS "$gb") | $(median3 MBS "$gb") | $((g / n)) | $rss |"
            echo "$row" | tee -a "$out"
        fi
    done
done
# Crash recovery at full size: kill -9, restart, time until it serves again.
kill -9 $TPID; wait $TPID 2>/dev/null || true
t0=$(date +%s%N)
"$TARGET/release/tyrantd" --listen 127.0.0.1:$TP --data-dir "$DATA/db" --threads 2 --log-level warn &
TPID=$!
wait_port "$TP"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
{ echo; echo "Restart after \`kill -9\` with ${TOTAL_GB} GiB stored: serving again after ${ms} ms (index checkpoint + log tail replay)."; } >>"$out"
cat "$out"
replace_section docs/benchmarks.md "<!-- kv-scale:begin -->" "<!-- kv-scale:end -->" "$out"
