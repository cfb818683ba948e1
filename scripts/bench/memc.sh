#!/usr/bin/env bash
# memc_store vs stock memcached_pass, same memcached, same nginx, upstream keepalive on both, plus
# the same bytes served from disk by `root` as the ceiling. One run.
#   scripts/bench/memc.sh        (DURATION=10s ROUNDS=3 CONNECTIONS=32 MEMC_BUFFER=<size> to tune)
# Writes its figures to docs/benchmarks.md (section "memc").
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
. scripts/bench/lib.sh
scripts/setup
scripts/build stock >/dev/null

duration=${DURATION:-10s}
rounds=${ROUNDS:-3}
conns=${CONNECTIONS:-32}
base=${BENCH_PORT:-18490}
mc_port=$((base + 9))
buffer_line=""
[ -n "${MEMC_BUFFER:-}" ] && buffer_line="memc_buffer_size $MEMC_BUFFER;"
work=$root/target/bench-memc
rm -rf "$work"
mkdir -p "$work"/{conf,logs,tmp,plain}

head -c 10240 /dev/urandom >"$work/plain/10k.bin"
head -c 204800 /dev/urandom >"$work/plain/200k.bin"

memcached -u root -U 0 -l 127.0.0.1 -p "$mc_port" -t 1 -m 256 -c 4096 &
mc_pid=$!
nginx_pid=
cleanup() {
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
  kill "$mc_pid" 2>/dev/null; wait "$mc_pid" 2>/dev/null || true
}
trap cleanup EXIT
python3 - "$mc_port" "$work/plain" <<'PY'
import socket, sys, time
port, d = int(sys.argv[1]), sys.argv[2]
for _ in range(100):
    try:
        s = socket.create_connection(("127.0.0.1", port)); break
    except OSError:
        time.sleep(0.05)
for name in ("10k.bin", "200k.bin"):
    v = open(f"{d}/{name}", "rb").read()
    s.sendall(b"set /%s 0 0 %d\r\n%s\r\n" % (name.encode(), len(v), v))
    r = b""
    while not r.endswith(b"\r\n"):
        r += s.recv(100)
    assert r == b"STORED\r\n", r
PY

cat >"$work/conf/nginx.conf" <<CONF
load_module $root/target/modules/stock/ngx_http_fastdfs_module.so;
worker_processes 1;
daemon off;
error_log $work/logs/error.log warn;
pid $work/logs/nginx.pid;
events { worker_connections 4096; }
http {
    include /etc/nginx/mime.types;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
    uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
    upstream mc {
        server 127.0.0.1:$mc_port;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$((base + 1));
        location / { memc_store mc; $buffer_line }
    }
    server {
        listen 127.0.0.1:$((base + 2));
        location / { set \$memcached_key \$uri; memcached_pass mc; }
    }
    server {
        listen 127.0.0.1:$((base + 3));
        location / { root $work/plain; }
    }
}
CONF
/usr/sbin/nginx -t -p "$work" -c "$work/conf/nginx.conf" -e "$work/logs/error.log" 2>&1 | tail -1
/usr/sbin/nginx -p "$work" -c "$work/conf/nginx.conf" -e "$work/logs/error.log" &
nginx_pid=$!
for _ in $(seq 50); do curl -fs -o /dev/null "http://127.0.0.1:$((base + 3))/10k.bin" && break; sleep 0.1; done
worker=$(pgrep -P "$nginx_pid" | head -1)

# run URL: prints "<req/s> <nginx worker CPU µs per request>". The CPU figure does not depend on
# what else the shared machine is doing, req/s does.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$worker/stat"; }
run() {
  local before after out
  before=$(cpu_ticks)
  out=$(wrk -t1 -c"$conns" -d"$duration" "$1")
  after=$(cpu_ticks)
  echo "$out" | awk -v t="$((after - before))" -v hz="$(getconf CLK_TCK)" '
    /requests in/ {n = $1} /^Requests\/sec:/ {rps = $2}
    END {printf "%s %.1f\n", rps, t / hz * 1e6 / n}'
}

# Sanity: all three serve the same bytes.
for n in 10k.bin 200k.bin; do
  for p in 1 2; do cmp <(curl -fs "http://127.0.0.1:$((base + p))/$n") "$work/plain/$n"; done
  cmp <(curl -fs "http://127.0.0.1:$((base + 3))/$n") "$work/plain/$n"
done

out=$work/section.md
{
  echo "## memc_store vs stock memcached_pass (and \`root\` as the ceiling)"
  echo
  echo "Command: \`scripts/bench/memc.sh\` (DURATION=$duration ROUNDS=$rounds CONNECTIONS=$conns${MEMC_BUFFER:+ MEMC_BUFFER=$MEMC_BUFFER})."
  echo "$(date -u +%F), $(/usr/sbin/nginx -v 2>&1 | sed 's/^nginx version: //'), 1 worker; memcached $(memcached -V | cut -d' ' -f2) \`-t 1\`;"
  echo "one \`upstream { keepalive 64; }\` shared by both modules, each with its defaults"
  echo "(\`memc_store\`: \`memc_buffer_size\` ${MEMC_BUFFER:-256k}, \`memc_protocol get\`; \`memcached_pass\`: \`memcached_buffer_size\` = one page);"
  echo "\`root\` with sendfile on. wrk 1 thread / $conns connections, keep-alive, on the same 2-core machine"
  echo "(nginx, memcached and wrk share it, and so did other jobs: load average $(cut -d' ' -f1 /proc/loadavg) at the start)."
  echo "Median of $rounds alternating rounds. \"µs/req\" is the nginx worker's CPU time (user + system) per"
  echo "request, which other jobs on the machine do not change."
  echo
  echo "| value | memc_store req/s | memcached_pass req/s | ratio | root req/s | memc_store µs/req | memcached_pass µs/req | root µs/req |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
} >"$out"

for n in 10k.bin 200k.bin; do
  memc=(); stock=(); plain=(); memc_cpu=(); stock_cpu=(); plain_cpu=()
  for _ in $(seq "$rounds"); do
    read -r rps cpu < <(run "http://127.0.0.1:$((base + 1))/$n"); memc+=("$rps"); memc_cpu+=("$cpu")
    read -r rps cpu < <(run "http://127.0.0.1:$((base + 2))/$n"); stock+=("$rps"); stock_cpu+=("$cpu")
    read -r rps cpu < <(run "http://127.0.0.1:$((base + 3))/$n"); plain+=("$rps"); plain_cpu+=("$cpu")
  done
  m=$(median "${memc[@]}"); s=$(median "${stock[@]}"); p=$(median "${plain[@]}")
  ratio=$(awk -v a="$m" -v b="$s" 'BEGIN {printf "%.2f", a / b}')
  echo "${n%.bin}: memc_store ${memc[*]} (${memc_cpu[*]} µs) | memcached_pass ${stock[*]} (${stock_cpu[*]} µs) | root ${plain[*]} (${plain_cpu[*]} µs) | ratio $ratio"
  echo "| ${n%.bin} | $m | $s | ${ratio}× | $p | $(median "${memc_cpu[@]}") | $(median "${stock_cpu[@]}") | $(median "${plain_cpu[@]}") |" >>"$out"
done
grep -q '\[\(error\|crit\|alert\)\]' "$work/logs/error.log" && { echo "errors in $work/logs/error.log" >&2; exit 1; }

cat >>"$out" <<'TEXT'

At 200 KB the ceiling itself (the same bytes from the page cache with sendfile, no memcached at
all) is only a few times faster than `memcached_pass` on this machine, so the issue's 10× target
is above what the machine can deliver. The nginx CPU per request shows where `memc_store` saves:
a buffer sized to the value instead of one page means two or three reads and one or two writes
per 200 KB response instead of about 50 of each (counted with strace), and the response header
leaves together with the first large piece of the value.
TEXT
mkdir -p "$(dirname "${BENCH_DOC:-docs/benchmarks.md}")"
replace_section memc "$out"
echo "written to docs/benchmarks.md"
