# Shared by the benchmark scripts: sourced, not run.

# replace_section NAME FILE: replaces the block between <!-- BEGIN NAME --> and <!-- END NAME -->
# in docs/benchmarks.md with the contents of FILE (appending the block if it is not there yet),
# so that each benchmark owns its section and reruns do not pile up.
replace_section() {
  local name=$1 body=$2 doc=${BENCH_DOC:-docs/benchmarks.md}
  [ -f "$doc" ] || printf '# Benchmarks\n\nFigures measured on the project machine (2 cores, 24 GiB, Debian 12). Each section says the command that produced it; rerunning it replaces the section.\n' >"$doc"
  python3 - "$doc" "$name" "$body" <<'PY'
import sys, re
doc, name, body = sys.argv[1], sys.argv[2], open(sys.argv[3]).read().rstrip("\n")
text = open(doc).read()
begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
block = f"{begin}\n{body}\n{end}"
if begin in text and end in text:
    text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda m: block, text, flags=re.S)
else:
    text = text.rstrip("\n") + "\n\n" + block + "\n"
open(doc, "w").write(text)
PY
}

# wrk_rps URL [extra wrk args...]: prints requests/s as a plain number.
wrk_rps() {
  local url=$1; shift
  wrk "$@" "$url" | awk '/^Requests\/sec:/ {print $2}'
}

# median of the numbers given as arguments
median() {
  printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}

# wrk_run URL PID [wrk args...]: runs wrk and prints "REQ_PER_S US_PER_REQ": requests/s, and the
# CPU time process PID (the nginx worker) spent per request. The CPU figure stays steady when
# other work shares the machine, where requests/s does not.
wrk_run() {
  local url=$1 pid=$2; shift 2
  local before after out
  before=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  out=$(wrk "$@" "$url")
  after=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  awk -v b="$before" -v a="$after" -v hz="$(getconf CLK_TCK)" '
    /requests in/ {n = $1}
    /^Requests\/sec:/ {rps = $2}
    END {printf "%s %.2f\n", rps, (a - b) * 1e6 / hz / n}' <<<"$out"
}
