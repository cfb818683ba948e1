#!/usr/bin/env bash
# Benchmark fdfs_storaged: uploads/s and downloads/s of 10 KB and 1 MB files with 16
# concurrent clients (fdfs_loadgen), and the daemon's peak RSS (VmHWM). Every case runs
# against a fresh daemon on a fresh store directory (this disk's upload rate collapses after
# mass deletes, so this run's stores are deleted only after all cases ran).
#
# Usage: scripts/bench/storage.sh [seconds-per-case]     (default 10)
# Env:   BENCH_DIR (default target/bench-storage), CONCURRENCY (16), KEEP_STORES (0)
# Cases: the four measurements with sync.durability = "auto" (journal-ordered group commit on
# ext4/XFS), then the two upload cases again with "fsync" (fdatasync per temp file) to compare.
# Writes the results into docs/benchmarks.md between the storage markers.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
conc=${CONCURRENCY:-16}
root=${BENCH_DIR:-target/bench-storage}
run_id=$(date -u +%Y%m%dT%H%M%S)

cargo build --release -q -p fdfs-storage -p fdfs-client
bin=target/release

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

results=()
case_no=0
for spec in "upload 10K auto" "upload 1M auto" "download 10K auto" "download 1M auto" \
            "upload 10K fsync" "upload 1M fsync"; do
  set -- $spec
  op=$1 size=$2 durability=$3
  case_no=$((case_no + 1))
  dir=$(realpath -m "$root/$run_id-$case_no-$op-$size")
  mkdir -p "$dir"
  port=$(free_port)
  cat > "$dir/storage.toml" <<TOML
group_name = "group1"
base_path = "$dir"
port = $port
log_level = "warn,fdfs_storage::layout=info"
log_file = "$dir/storaged.log"
[sync]
durability = "$durability"
TOML
  "$bin/fdfs_storaged" --config "$dir/storage.toml" &
  pid=$!
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
  line=$("$bin/fdfs_loadgen" --addr 127.0.0.1:$port --op "$op" --size "$size" \
           --concurrency "$conc" --seconds "$secs")
  hwm_kb=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
  kill -TERM $pid
  wait $pid || true
  mode=$(grep -o 'journal_ordered=[a-z]*' "$dir/storaged.log" | head -1 || true)
  echo "$line durability=$durability($mode) peak_rss_mib=$((hwm_kb / 1024))"
  results+=("$line durability=$durability peak_rss_kib=$hwm_kb")
done

# Start-up cost of creating all 256x256 sub-directories (FastDFS does it at first start;
# fdfs_storaged creates them on first use unless precreate_subdirs = true).
dir=$(realpath -m "$root/$run_id-precreate")
mkdir -p "$dir"
port=$(free_port)
printf 'group_name = "group1"\nbase_path = "%s"\nport = %s\nprecreate_subdirs = true\nlog_level = "warn"\n' \
  "$dir" "$port" > "$dir/storage.toml"
t0=$(date +%s.%N)
"$bin/fdfs_storaged" --config "$dir/storage.toml" &
pid=$!
for _ in $(seq 2000); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.01; done
t1=$(date +%s.%N)
kill -TERM $pid; wait $pid || true
precreate_s=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
echo "precreate 65536 sub-directories: ${precreate_s} s"

table="| case | durability | ops/s | MiB/s | p50 ms | p99 ms | errors | daemon peak RSS |
|---|---|---|---|---|---|---|---|"
for r in "${results[@]}"; do
  get() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$r"; }
  table+="
| $(get op) $(get size) B | $(get durability) | $(get ops_per_sec) | $(get mib_per_sec) | $(get p50_ms) | $(get p99_ms) | $(get errors) | $(( $(get peak_rss_kib) / 1024 )) MiB |"
done

section="<!-- storage:begin -->
## fdfs_storaged

Command: \`scripts/bench/storage.sh $secs\` ($conc concurrent clients, ${secs} s per case, each
case on a fresh daemon and a fresh store directory on $(df -T "$root" | awk 'NR==2 {print $2}')).
Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores, load average at start $(cut -d' ' -f1 /proc/loadavg)
(the load generator runs on the same cores).

$table

Start-up with \`precreate_subdirs = true\` on an empty store (65,536 \`mkdir\`s, as FastDFS does at
first start): ${precreate_s} s until the port answers. The default creates each \`HH/HH\`
directory on first use instead (durably, inside the group commit), so start-up stays instant.

Every upload is acknowledged only after its content, its rename into \`data/HH/HH/\` and its
binlog record are durable. \`auto\` (here: journal-ordered) writes each temp file out with
\`sync_file_range\` and lets one journal commit per batch (the binlog fdatasync) make data,
renames and records durable together; \`fsync\` fdatasyncs every temp file before the batch
commit (two journal commits per upload, portable to any file system).
<!-- storage:end -->"

doc=docs/benchmarks.md
mkdir -p docs
[ -f "$doc" ] || printf '# Benchmarks\n' > "$doc"
SECTION="$section" python3 - "$doc" <<'PY'
import os, re, sys
p = sys.argv[1]
s = open(p).read()
sec = os.environ["SECTION"]
pat = re.compile(r"<!-- storage:begin -->.*?<!-- storage:end -->", re.S)
s = pat.sub(lambda m: sec, s) if pat.search(s) else s.rstrip("\n") + "\n\n" + sec + "\n"
open(p, "w").write(s)
PY
echo "results written to $doc"
# Deleting gigabytes on this discard-mounted disk slows the next few minutes of writes, so it
# happens only after every case ran; KEEP_STORES=1 keeps them for inspection.
if [ "${KEEP_STORES:-0}" = 1 ]; then
  echo "stores kept under $root ($(du -sh "$root" | cut -f1))"
else
  rm -rf "$root/$run_id"-*
  echo "stores removed; wait a few minutes before another upload benchmark on this disk"
fi
