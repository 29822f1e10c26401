#!/usr/bin/env bash
# clatd.service: `systemd-analyze verify` prints nothing (it exits 0 on some warnings, so its
# output is what counts), and `systemd-analyze security` scores it below 4.0 (printed).
# Usage: check_unit.sh BUILT_UNIT CLATD_BINARY
set -u
unit=$1
clatd=$2
command -v systemd-analyze >/dev/null || { echo "skipped: no systemd-analyze"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# Point ExecStart at the built binary: verify checks that it exists and is executable. The man
# pages are not installed on a build machine, hence --man=no.
sed "s#^ExecStart=.*#ExecStart=$clatd#" "$unit" >"$dir/clatd.service"
out=$(systemd-analyze verify --man=no "$dir/clatd.service" 2>&1)
if [ -n "$out" ]; then
    echo "systemd-analyze verify complained:"
    echo "$out"
    exit 1
fi
echo "verify: no warnings"
security=$(systemd-analyze security --offline=true "$dir/clatd.service" 2>&1)
level=$(printf '%s\n' "$security" | sed -n 's/.*Overall exposure level for clatd.service: \([0-9.]*\).*/\1/p')
if [ -z "$level" ]; then
    echo "no exposure level in:"
    echo "$security"
    exit 1
fi
echo "exposure level: $level"
awk -v l="$level" 'BEGIN { exit !(l < 4.0) }' || { echo "exposure $level is not below 4.0"; exit 1; }
