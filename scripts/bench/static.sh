#!/usr/bin/env bash
# ngx_fastdfs_module vs nginx's own static serving (`root`), same files, same nginx, one run.
#   scripts/bench/static.sh            (DURATION=10s ROUNDS=3 CONNECTIONS=32 to tune)
# Writes its figures to docs/benchmarks.md (section "static").
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
. scripts/bench/lib.sh
scripts/setup
scripts/build stock >/dev/null

duration=${DURATION:-10s}
rounds=${ROUNDS:-3}
conns=${CONNECTIONS:-32}
port=${BENCH_PORT:-18480}
work=$root/target/bench-static
rm -rf "$work"
mkdir -p "$work"/{conf,logs,tmp,store/data/00/00,plain/plain/group1/M00/00/00}

# Same bytes at a FastDFS path (module) and under a plain root (static module).
head -c 10240 /dev/urandom >"$work/10k"
head -c 204800 /dev/urandom >"$work/200k"
n10=fwAAAWsCHZWAf6BzAAAoAA3re24260.bin
n200=fwAAAWsCHZaAIISiAAMgAD5FooY185.bin
for d in "$work/store/data/00/00" "$work/plain/plain/group1/M00/00/00"; do
  cp "$work/10k" "$d/$n10"
  cp "$work/200k" "$d/$n200"
done

cat >"$work/conf/nginx.conf" <<CONF
load_module $root/target/modules/stock/ngx_http_fastdfs_module.so;
worker_processes 1;
daemon off;
error_log $work/logs/error.log warn;
pid $work/logs/nginx.pid;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
    uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
    server {
        listen 127.0.0.1:$port;
        fastdfs_group group1;
        fastdfs_store_path 0 $work/store;
        fastdfs_url_have_group_name on;
        location /group1/ { ngx_fastdfs_module; }
        location /plain/ { root $work/plain; }
    }
    server {
        listen 127.0.0.1:$((port + 1));
        fastdfs_group group1;
        fastdfs_store_path 0 $work/store;
        fastdfs_url_have_group_name on;
        fastdfs_token on;
        fastdfs_token_secret bench-secret;
        fastdfs_token_ttl 1d;
        location /group1/ { ngx_fastdfs_module; }
    }
}
CONF
/usr/sbin/nginx -t -p "$work" -c "$work/conf/nginx.conf" -e "$work/logs/error.log" 2>&1 | tail -1
/usr/sbin/nginx -p "$work" -c "$work/conf/nginx.conf" -e "$work/logs/error.log" &
nginx_pid=$!
trap 'kill $nginx_pid 2>/dev/null; wait $nginx_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -fs -o /dev/null "http://127.0.0.1:$port/plain/group1/M00/00/00/$n10" && break; sleep 0.1; done

# Sanity: both sides serve the same bytes.
for n in $n10 $n200; do
  cmp <(curl -fs "http://127.0.0.1:$port/group1/M00/00/00/$n") <(curl -fs "http://127.0.0.1:$port/plain/group1/M00/00/00/$n")
done

out=$work/section.md
{
  echo "## Static serving: ngx_fastdfs_module vs plain \`root\`"
  echo
  echo "Command: \`scripts/bench/static.sh\` (DURATION=$duration ROUNDS=$rounds CONNECTIONS=$conns)."
  echo "$(date -u +%F), $(/usr/sbin/nginx -v 2>&1 | sed 's/^nginx version: //'), 1 worker, sendfile on, open_file_cache off,"
  echo "wrk 1 thread / $conns connections on the same 2-core machine, keep-alive. Median of $rounds alternating rounds."
  echo
  echo "| file | module req/s | module + tokens req/s | plain root req/s | ratio | ratio with tokens |"
  echo "|---|---:|---:|---:|---:|---:|"
} >"$out"

for size in 10k 200k; do
  name=$n10; [ $size = 200k ] && name=$n200
  ts=$(date +%s)
  token=$(printf '%s' "M00/00/00/${name}bench-secret$ts" | md5sum | cut -d' ' -f1)
  token_url="http://127.0.0.1:$((port + 1))/group1/M00/00/00/$name?token=$token&ts=$ts"
  curl -fs -o /dev/null "$token_url" || { echo "token URL refused" >&2; exit 1; }
  mod=(); tok=(); plain=()
  for _ in $(seq "$rounds"); do
    mod+=("$(wrk_rps "http://127.0.0.1:$port/group1/M00/00/00/$name" -t1 -c"$conns" -d"$duration")")
    tok+=("$(wrk_rps "$token_url" -t1 -c"$conns" -d"$duration")")
    plain+=("$(wrk_rps "http://127.0.0.1:$port/plain/group1/M00/00/00/$name" -t1 -c"$conns" -d"$duration")")
  done
  m=$(median "${mod[@]}"); t=$(median "${tok[@]}"); p=$(median "${plain[@]}")
  ratio=$(awk -v a="$m" -v b="$p" 'BEGIN {printf "%.3f", a / b}')
  tratio=$(awk -v a="$t" -v b="$p" 'BEGIN {printf "%.3f", a / b}')
  echo "$size: module ${mod[*]} | tokens ${tok[*]} | plain ${plain[*]} | ratio $ratio / $tratio"
  echo "| $size | $m | $t | $p | $ratio | $tratio |" >>"$out"
done

replace_section static "$out"
echo "written to docs/benchmarks.md"
