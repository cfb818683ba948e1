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
master_process on;
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
worker=$(pgrep -P "$nginx_pid" | head -1)
[ -n "$worker" ] || { echo "no nginx worker found" >&2; exit 1; }

# Sanity: both sides serve the same bytes.
for n in $n10 $n200; do
  cmp <(curl -fs "http://127.0.0.1:$port/group1/M00/00/00/$n") <(curl -fs "http://127.0.0.1:$port/plain/group1/M00/00/00/$n")
done

out=$work/section.md
{
  echo "## Static serving: ngx_fastdfs_module vs plain \`root\`"
  echo
  echo "Command: \`scripts/bench/static.sh\` (DURATION=$duration ROUNDS=$rounds CONNECTIONS=$conns)."
  echo "$(date -u '+%F %H:%M UTC'), $(/usr/sbin/nginx -v 2>&1 | sed 's/^nginx version: //'), 1 worker, sendfile on, open_file_cache off,"
  echo "wrk 1 thread / $conns connections on the same 2-core machine, keep-alive; load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Medians of $rounds interleaved rounds. *CPU/req* is the nginx worker's CPU time per request"
  echo "(utime + stime from /proc): it holds steady when other work shares the machine, where"
  echo "requests/s does not, so the *CPU ratio* (plain's CPU per request / the module's) is the figure"
  echo "to compare with the 0.98 target."
  echo
  echo "| file | module req/s | + tokens req/s | plain req/s | module CPU/req | + tokens CPU/req | plain CPU/req | req/s ratio | CPU ratio | CPU ratio with tokens |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} >"$out"

for size in 10k 200k; do
  name=$n10; [ $size = 200k ] && name=$n200
  ts=$(date +%s)
  token=$(printf '%s' "M00/00/00/${name}bench-secret$ts" | md5sum | cut -d' ' -f1)
  token_url="http://127.0.0.1:$((port + 1))/group1/M00/00/00/$name?token=$token&ts=$ts"
  curl -fs -o /dev/null "$token_url" || { echo "token URL refused" >&2; exit 1; }
  mod=(); tok=(); plain=(); mod_cpu=(); tok_cpu=(); plain_cpu=()
  for _ in $(seq "$rounds"); do
    read -r r c < <(wrk_run "http://127.0.0.1:$port/group1/M00/00/00/$name" "$worker" -t1 -c"$conns" -d"$duration"); mod+=("$r"); mod_cpu+=("$c")
    read -r r c < <(wrk_run "$token_url" "$worker" -t1 -c"$conns" -d"$duration"); tok+=("$r"); tok_cpu+=("$c")
    read -r r c < <(wrk_run "http://127.0.0.1:$port/plain/group1/M00/00/00/$name" "$worker" -t1 -c"$conns" -d"$duration"); plain+=("$r"); plain_cpu+=("$c")
  done
  m=$(median "${mod[@]}"); t=$(median "${tok[@]}"); p=$(median "${plain[@]}")
  mc=$(median "${mod_cpu[@]}"); tc=$(median "${tok_cpu[@]}"); pc=$(median "${plain_cpu[@]}")
  ratio=$(awk -v a="$m" -v b="$p" 'BEGIN {printf "%.3f", a / b}')
  cratio=$(awk -v a="$pc" -v b="$mc" 'BEGIN {printf "%.3f", a / b}')
  tratio=$(awk -v a="$pc" -v b="$tc" 'BEGIN {printf "%.3f", a / b}')
  echo "$size: req/s module ${mod[*]} | tokens ${tok[*]} | plain ${plain[*]}"
  echo "$size: CPU us/req module ${mod_cpu[*]} | tokens ${tok_cpu[*]} | plain ${plain_cpu[*]} | CPU ratio $cratio / $tratio"
  echo "| $size | $m | $t | $p | ${mc} µs | ${tc} µs | ${pc} µs | $ratio | $cratio | $tratio |" >>"$out"
done

replace_section static "$out"
echo "written to docs/benchmarks.md"
