#!/usr/bin/env bash
# Tracker query throughput: QUERY_STORE (101) and QUERY_FETCH_ONE (102) with 32 persistent
# connections against a release fdfs_trackerd with one release fdfs_storaged joined.
# usage: scripts/bench/tracker.sh [SECONDS_PER_CASE]   (default 10; writes docs/benchmarks.md)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
secs=${1:-10}
conns=32
cargo build --quiet --release -p fdfs-tracker -p fdfs-storage -p fdfs-client --bins
cargo build --quiet --release -p fdfs-tracker --example tracker_bench
bin=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release
work=$(mktemp -d /tmp/tracker-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tport=$(port); sport=$(port)
mkdir -p "$work/t" "$work/s"
printf 'port = %s\nbase_path = "%s/t"\nlog_level = "warn"\nheart_beat_interval = 1\ncheck_active_interval = 3\nreserved_storage_space = "0%%"\n' \
  "$tport" "$work" >"$work/tracker.toml"
printf 'group_name = "group1"\nport = %s\nbase_path = "%s/s"\nlog_level = "warn"\ntracker_servers = ["127.0.0.1:%s"]\nheart_beat_interval = 1\nstat_report_interval = 1\nreserved_storage_space = "0%%"\n' \
  "$sport" "$work" "$tport" >"$work/storage.toml"
"$bin/fdfs_trackerd" --config "$work/tracker.toml" 2>"$work/tracker.err" & pids+=($!)
sleep 0.3
"$bin/fdfs_storaged" --config "$work/storage.toml" 2>"$work/storage.err" & pids+=($!)
for _ in $(seq 100); do
  "$bin/fdfs" -t "127.0.0.1:$tport" monitor --json 2>/dev/null | grep -q '"status": "ACTIVE"' && break
  sleep 0.1
done
echo hello >"$work/hello.txt"
id=$("$bin/fdfs" -t "127.0.0.1:$tport" upload "$work/hello.txt")
load=$(cut -d' ' -f1 /proc/loadavg)
r101=$("$bin/examples/tracker_bench" --addr "127.0.0.1:$tport" --cmd 101 --concurrency $conns --seconds "$secs")
r102=$("$bin/examples/tracker_bench" --addr "127.0.0.1:$tport" --cmd 102 --file-id "$id" --concurrency $conns --seconds "$secs")
echo "$r101"; echo "$r102"
rss=$(awk '/VmHWM/ {print int($2/1024)}' "/proc/${pids[0]}/status")
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
body=$work/section.md
{
  echo "## fdfs_trackerd"
  echo
  echo "Command: \`scripts/bench/tracker.sh $secs\` ($conns persistent connections, one request in flight"
  echo "per connection, $secs s per case; release build; one storage joined; the load generator"
  echo "\`crates/tracker/examples/tracker_bench.rs\` runs on the same 2 cores)."
  echo "Measured $(date -u '+%Y-%m-%d %H:%M') UTC, load average at start $load."
  echo
  echo "| query | queries/s | p50 ms | p99 ms | errors | tracker peak RSS |"
  echo "|---|---|---|---|---|---|"
  echo "| 101 QUERY_STORE_WITHOUT_GROUP_ONE | $(field qps "$r101") | $(field p50_ms "$r101") | $(field p99_ms "$r101") | $(field errors "$r101") | ${rss} MiB |"
  echo "| 102 QUERY_FETCH_ONE | $(field qps "$r102") | $(field p50_ms "$r102") | $(field p99_ms "$r102") | $(field errors "$r102") | ${rss} MiB |"
} >"$body"
replace_section tracker "$body"
cat "$body"
