#!/usr/bin/env bash
# Storage engine comparison: tyrantd's log engine vs fjall with key-value separation, same
# workload (tyrant-engine-bench). Writes the "kv-engine" section of docs/benchmarks.md.
#   DIR=/tmp/engine-bench scripts/bench/kv-engine.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/kv-common.sh
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
DIR=${DIR:-$(mktemp -d)}
cargo build -q --release -p tyrant --features fjall-bench --bin tyrant-engine-bench
B=$TARGET/release/tyrant-engine-bench
out=$(mktemp)
{
    echo "## KV storage engine: log engine vs fjall (\`scripts/bench/kv-engine.sh\`)"
    echo
    echo "Run $(date -u +%Y-%m-%dT%H:%MZ). \`tyrant-engine-bench\`: 4 threads write incompressible values, each write durable"
    echo "before it returns (log: group-committed fdatasync; fjall 3.1: insert + \`persist(SyncData)\`, KV separation on),"
    echo "then close, reopen, 20 000 random reads from 4 threads (page cache warm)."
    echo
    echo "| value | count | engine | durable writes/s | MB/s | reopen ms | reads/s | disk MB | space amp | RSS growth MB |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
} >"$out"
for args in "10240 30000" "102400 5000" "1048576 500"; do
    set -- $args
    for e in log fjall; do
        l=$("$B" --engine $e --dir "$DIR/$e" --value-size $1 --count $2 --threads 4 --reads 20000)
        echo "$l"
        echo "| $(($1 / 1024)) KiB | $2 | $e | $(echo "$l" | field write_ops_per_sec) | $(echo "$l" | field write_mb_per_sec) | $(echo "$l" | field reopen_ms) | $(echo "$l" | field read_ops_per_sec) | $(echo "$l" | field disk_mb) | $(echo "$l" | field space_amp) | $(echo "$l" | field rss_growth_mb) |" >>"$out"
        rm -rf "${DIR:?}/$e"
    done
done
cat "$out"
replace_section docs/benchmarks.md "<!-- kv-engine:begin -->" "<!-- kv-engine:end -->" "$out"
