#!/usr/bin/env bash
# tyrantd vs memcached 1.6 side by side, same load tool (tyrant-load), same machine, one run.
# Writes the table into the "KV" section of docs/benchmarks.md (between the kv markers).
#   scripts/bench/kv.sh            # SECS=5 CONNS=32 ROUNDS=3 by default
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/kv-common.sh
SECS=${SECS:-5} CONNS=${CONNS:-32} ROUNDS=${ROUNDS:-3}
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

# What the disk can do: a durable write can never beat one fdatasync, and durable throughput can
# never beat the device's direct-write bandwidth.
DISK=$(python3 - "$TMP" <<'PY'
import mmap, os, sys, time
p = os.path.join(sys.argv[1], "fsync.test")
fd = os.open(p, os.O_WRONLY | os.O_CREAT)
t = time.time()
for _ in range(200): os.write(fd, b"x" * 1024); os.fdatasync(fd)
lat = (time.time() - t) / 200 * 1000
os.close(fd); os.unlink(p)
fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_DIRECT)
buf = mmap.mmap(-1, 4 << 20)
t = time.time()
for i in range(256): os.pwrite(fd, buf, i << 22)
os.fdatasync(fd)
bw = 256 * 4 * 1.048576 / (time.time() - t)
os.close(fd); os.unlink(p)
print("%.1f %.0f" % (lat, bw))
PY
)
read -r FSYNC_MS DISK_MBS <<<"$DISK"

declare -A PIDS=([$MP]=$MPID [$TP]=$TPID [$IP]=$IPID)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
declare -A R
# run NAME PORT OP SIZE CONNS ROUND: one measurement; ops/s and server CPU per op are kept.
run() {
    local keys=$(( $4 > 10000 ? 2000 : 20000 )) extra=() pid=${PIDS[$2]} c0 c1 line ops
    [ "$3" = get ] && [ "$6" = 1 ] && extra=(--prefill)
    c0=$(cpu_ticks "$pid")
    line=$("$LOAD" --server 127.0.0.1:$2 --op $3 --value-size $4 --keys $keys --conns $5 --secs "$SECS" --prefix "b$4" "${extra[@]}")
    c1=$(cpu_ticks "$pid")
    echo "$1 round $6 $line"
    ops=$(echo "$line" | sed -n 's/.* ops=\([0-9]*\) .*/\1/p')
    R[$1,$3,$4,$5]+="$(echo "$line" | field ops_per_sec) "
    R[$1,$3,$4,$5,p99]+="$(echo "$line" | field p99_us) "
    R[$1,$3,$4,$5,cpu]=$(( ${R[$1,$3,$4,$5,cpu]:-0} + (c1 - c0) ))
    R[$1,$3,$4,$5,ops]=$(( ${R[$1,$3,$4,$5,ops]:-0} + ops ))
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR] = $1} END {print (NR ? a[int((NR + 1) / 2)] : 0)}'; }
us_per_op() { awk -v t="${R[$1,cpu]:-0}" -v o="${R[$1,ops]:-0}" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", (o > 0 ? t * 1e6 / hz / o : 0) }'; }
# Rounds alternate the servers, so a slow spell of this shared machine hits both alike.
for round in $(seq "$ROUNDS"); do
    for size in 1024 102400; do
        for op in set get; do
            run memcached "$MP" $op $size "$CONNS" "$round"
            run tyrantd "$TP" $op $size "$CONNS" "$round"
        done
        run interval "$IP" set $size "$CONNS" "$round"
        # Durable writes scale with concurrency (group commit): same test with 8x the connections.
        run memcached "$MP" set $size $((CONNS * 8)) "$round"
        run tyrantd "$TP" set $size $((CONNS * 8)) "$round"
        run interval "$IP" set $size $((CONNS * 8)) "$round"
    done
done
TRSS=$(mc_stat "$TP" rss_bytes)

out=$TMP/section.md
{
    echo "## KV: tyrantd vs memcached (\`scripts/bench/kv.sh\`)"
    echo
    echo "Run $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(uname -r); memcached $(memcached -V | cut -d' ' -f2) \`-t 2 -m 4096\`;"
    echo "tyrantd \`--threads 2\`, default durable mode (\`sync = \"always\"\`: group-committed O_DIRECT appends, fdatasync per write batch);"
    echo "load: \`tyrant-load --secs $SECS\` (1 thread, one request in flight per connection), all on the same 2 cores."
    echo "Each figure is the median of $ROUNDS rounds that alternate the servers. \"CPU µs/op\" is the server process's own CPU time per request over all rounds: it is less sensitive to this shared machine's noise than ops/s."
    echo
    echo "Disk: fdatasync of 1 KiB: $FSYNC_MS ms; O_DIRECT write bandwidth (4 MiB writes): $DISK_MBS MB/s."
    echo
    echo "| value | op | conns | memcached ops/s | tyrantd ops/s (durable) | ratio | target | memcached CPU µs/op | tyrantd CPU µs/op | tyrantd \`interval:100\` ops/s | memcached p99 µs | tyrantd p99 µs |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
    for size in 1024 102400; do
        for oc in "get $CONNS" "set $CONNS" "set $((CONNS * 8))"; do
            set -- $oc; op=$1 c=$2
            m=$(echo "${R[memcached,$op,$size,$c]}" | median) t=$(echo "${R[tyrantd,$op,$size,$c]}" | median)
            i=-
            [ $op = set ] && i=$(echo "${R[interval,$op,$size,$c]}" | median)
            ratio=$(awk -v t="$t" -v m="$m" 'BEGIN { printf "%.2f", (m > 0 ? t / m : 0) }')
            target=$([ $op = get ] && echo "≥ 0.8" || echo "≥ 0.5")
            echo "| $((size / 1024)) KiB | $op | $c | $m | $t | $ratio | $target | $(us_per_op memcached,$op,$size,$c) | $(us_per_op tyrantd,$op,$size,$c) | $i | $(echo "${R[memcached,$op,$size,$c,p99]}" | median) | $(echo "${R[tyrantd,$op,$size,$c,p99]}" | median) |"
        done
    done
    echo
    echo "tyrantd RSS after the run: $((TRSS / 1048576)) MiB."
    m=$(echo "${R[memcached,set,102400,$CONNS]}" | median)
    echo "Ceiling for durable 100 KiB sets on this disk: $DISK_MBS MB/s = $(awk -v d="$DISK_MBS" 'BEGIN { printf "%.0f", d * 1e6 / 102400 }') sets/s = $(awk -v d="$DISK_MBS" -v m="$m" 'BEGIN { printf "%.2f", (m > 0 ? d * 1e6 / 102400 / m : 0) }')× memcached's in-memory rate at $CONNS connections."
} >"$out"
cat "$out"
replace_section docs/benchmarks.md "<!-- kv:begin -->" "<!-- kv:end -->" "$out"
