#!/usr/bin/env bash
# bench.quick: runs scripts/bench --quick and passes when every figure was produced (a result
# line for each of the six, and the JSON holding all six); the figures are not judged.
# Exit 77 (skipped) when not root or a tool is missing (scripts/bench says so).
set -u
bench=$1
json=$(mktemp /tmp/clat-bench-quick.XXXXXX.json)
out=$(mktemp /tmp/clat-bench-quick.XXXXXX.out)
trap 'rm -f "$json" "$out"' EXIT
start=$SECONDS
bash "$bench" --quick --json "$json" | tee "$out"
rc=${PIPESTATUS[0]}
echo "wall time: $((SECONDS - start)) s"
[ "$rc" -eq 77 ] && exit 77
failures=0
for n in 1 2 3 4 5 6; do
    if ! grep -Eq "^$n +[a-zA-Z]" "$out" || grep -Eq "^$n +\(no result" "$out"; then
        echo "FAIL: figure $n not produced"
        failures=$((failures + 1))
    fi
done
got=$(/usr/bin/python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["figures"]))' \
    "$json" 2>/dev/null)
[ "$got" = 6 ] || { echo "FAIL: the JSON holds ${got:-no} figures, not 6" && failures=$((failures + 1)); }
[ "$rc" -eq 0 ] || { echo "FAIL: scripts/bench exited $rc" && failures=$((failures + 1)); }
echo "$failures failure(s)"
[ "$failures" -eq 0 ]
