# Helpers shared by the KV benchmark scripts (sourced, not run).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; return 1; }
# mc_stat PORT NAME: one value from the memcached `stats` reply.
mc_stat() {
    exec 3<>/dev/tcp/127.0.0.1/$1
    printf 'stats\r\n' >&3
    local line v=""
    while IFS= read -r -t 5 line <&3; do
        line=${line%$'\r'}
        [ "$line" = END ] && break
        case $line in "STAT $2 "*) v=${line#STAT $2 } ;; esac
    done
    exec 3<&-
    echo "$v"
}
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; } # field NAME < line
# replace_section FILE BEGIN END CONTENT_FILE: swap the block between two marker lines.
replace_section() {
    local f=$1 b=$2 e=$3 c=$4
    [ -f "$f" ] || printf '# Benchmarks\n' >"$f"
    if ! grep -qF "$b" "$f"; then printf '\n%s\n%s\n' "$b" "$e" >>"$f"; fi
    awk -v b="$b" -v e="$e" -v c="$c" '
        $0 == b { print; while ((getline l < c) > 0) print l; skip = 1; next }
        $0 == e { skip = 0 }
        !skip { print }' "$f" >"$f.tmp" && mv "$f.tmp" "$f"
}
