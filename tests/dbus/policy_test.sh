#!/usr/bin/env bash
# The shipped D-Bus policy file is a valid bus configuration: a system-bus-style dbus-daemon
# that includes it starts. Deliberately broken copies must make it refuse, which shows the
# check can fail.
set -u
policy=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
command -v dbus-daemon >/dev/null || { echo "SKIP: dbus-daemon not installed"; exit 77; }
. "$here/bus_lib.sh"
tmp=$(mktemp -d)
trap 'stop_bus "$tmp/pid"; rm -rf "$tmp"' EXIT

write_bus_config "$tmp/bus.conf" "$tmp/bus" "$policy"
if ! start_bus "$tmp/bus.conf" "$tmp/pid"; then
    echo "FAIL: dbus-daemon rejects a configuration including $policy"
    exit 1
fi
stop_bus "$tmp/pid"
echo "ok: dbus-daemon accepts $policy"

# expect_refused NAME SED-SCRIPT: a copy edited by SED-SCRIPT must be refused.
expect_refused() {
    sed "$2" "$policy" >"$tmp/$1.conf"
    if cmp -s "$policy" "$tmp/$1.conf"; then
        echo "FAIL: $1: the edit changed nothing"
        exit 1
    fi
    write_bus_config "$tmp/$1-bus.conf" "$tmp/$1-bus" "$tmp/$1.conf"
    if start_bus "$tmp/$1-bus.conf" "$tmp/pid" 2>"$tmp/err"; then
        echo "FAIL: dbus-daemon accepted the $1 copy; the check proves nothing"
        exit 1
    fi
    echo "ok: $1 copy refused: $(head -1 "$tmp/err")"
}
expect_refused unbalanced 's#</policy>##'
expect_refused typo 's#allow own=#allow owm=#'
