#!/usr/bin/env bash
# Group replication: lag under a steady upload load and backlog sync rate between two
# storages (release builds, one tracker, storages with storage ids; see
# crates/tracker/examples/repl_bench.rs for what is measured).
# usage: scripts/bench/replication.sh [RATE_FILES_PER_S] [SECONDS]   (defaults 50, 20)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
rate=${1:-50}
secs=${2:-20}
cargo build --quiet --release -p fdfs-tracker -p fdfs-storage --bins
cargo build --quiet --release -p fdfs-tracker --example repl_bench
bin=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release
load=$(cut -d' ' -f1 /proc/loadavg)
out=$("$bin/examples/repl_bench" --bin-dir "$bin" --rate "$rate" --seconds "$secs")
echo "$out"
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2" | head -1; }
lag=$(grep '^lag_files' <<<"$out")
small=$(grep '^backlog_files' <<<"$out" | sed -n 1p)
big=$(grep '^backlog_files' <<<"$out" | sed -n 2p)
rec=$(grep '^recovery_files' <<<"$out")
body=$(mktemp)
trap 'rm -f "$body"' EXIT
{
  echo "## Group replication"
  echo
  echo "Command: \`scripts/bench/replication.sh $rate $secs\` (release build; one tracker and two"
  echo "storages of one group on this machine, sharing its 2 cores with the load generator"
  echo "\`crates/tracker/examples/repl_bench.rs\`). Measured $(date -u '+%Y-%m-%d %H:%M') UTC, load average at start $load."
  echo
  echo "Lag: $(field lag_files "$lag") uploads of $(field lag_size "$lag") bytes at $rate files/s, spread over both storages by"
  echo "the tracker; lag = upload acknowledged → the other storage has committed its copy (its binlog"
  echo "records the replicated create). Missing after 60 s: $(field missing "$lag")."
  echo
  echo "| p50 | p99 | max |"
  echo "|---|---|---|"
  echo "| $(field p50_s "$lag") s | $(field p99_s "$lag") s | $(field max_s "$lag") s |"
  echo
  echo "Sync rate: storage 2 stopped, a backlog uploaded to storage 1, storage 2 restarted; rate"
  echo "between its first and last replicated create (default \`streams_per_peer = 4\` connections)."
  echo
  echo "| backlog | files/s | MB/s |"
  echo "|---|---|---|"
  echo "| $(field backlog_files "$small") × $(field backlog_size "$small") B | $(field files_per_s "$small") | $(field mb_per_s "$small") |"
  echo "| $(field backlog_files "$big") × $(field backlog_size "$big") B | $(field files_per_s "$big") | $(field mb_per_s "$big") |"
  echo
  echo "Recovery: storage 2 wiped and restarted; from its start until ACTIVE again (joined as"
  echo "WAIT_SYNC, fetched storage 1's binlog, downloaded every file with four workers, 88, beat)."
  echo
  echo "| files | bytes | seconds | files/s | MB/s |"
  echo "|---|---|---|---|---|"
  echo "| $(field recovery_files "$rec") | $(field recovery_bytes "$rec") | $(field seconds "$rec") | $(field files_per_s "$rec") | $(field mb_per_s "$rec") |"
} >"$body"
replace_section replication "$body"
cat "$body"
