#!/usr/bin/env bash
# clatd --check-config end to end: a Perl-style key=value file and the same settings in YAML
# must give identical effective settings (also with command-line overrides), and every bad
# input must give one line on stderr naming the place, nothing on stdout, and exit status 2.
# Usage: check_config.sh CLATD [SOURCE_DIR]   (with SOURCE_DIR, also checks that clatd.conf(5)
# documents every key).
set -u
clatd=${1:?usage: check_config.sh CLATD [SOURCE_DIR]}
srcdir=${2:-}
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

cat >"$dir/perl.conf" <<'CONF'
# Perl clatd style
; another comment
// and another
quiet=1
clat-dev = clat0
clat-v6-addr=shared
dns64-servers=2001:db8::53,192.0.2.53
plat-prefix=2001:db8:64::/96
plat-fallback-prefix=64:ff9b::/96
forwarding-enable=off
v4-defaultroute-metric=0x800
v4-defaultroute-mtu=1400
script-up=echo up on $clat_dev: ok=1
tayga-extra=wkpf-strict no
tayga-extra=offlink-mtu 1400
CONF

cat >"$dir/yaml.conf" <<'CONF'
# The same in YAML
quiet: 1
clat-dev: clat0
clat-v6-addr: shared
dns64-servers: [2001:db8::53, 192.0.2.53]
plat-prefix: 2001:db8:64::/96
plat-fallback-prefix: 64:ff9b::/96
forwarding-enable: false
v4-defaultroute-metric: 2048
v4-defaultroute-mtu: 1400
script-up: "echo up on $clat_dev: ok=1"
tayga-extra:
  - wkpf-strict no
  - offlink-mtu 1400
CONF

# run NAME ARGS...: runs clatd, leaving stdout, stderr and status in $dir/NAME.{out,err,rc}.
run() {
    local name=$1
    shift
    "$clatd" "$@" >"$dir/$name.out" 2>"$dir/$name.err"
    echo $? >"$dir/$name.rc"
}

expect_same_success() {
    local a=$1 b=$2
    for n in "$a" "$b"; do
        [ "$(cat "$dir/$n.rc")" = 0 ] || fail "$n: exit $(cat "$dir/$n.rc"): $(cat "$dir/$n.err")"
        [ -s "$dir/$n.out" ] || fail "$n: no output"
        [ ! -s "$dir/$n.err" ] || fail "$n: unexpected stderr: $(cat "$dir/$n.err")"
    done
    cmp -s "$dir/$a.out" "$dir/$b.out" || fail "$a and $b differ: $(diff "$dir/$a.out" "$dir/$b.out")"
}

expect_line() {
    grep -qxF -- "$2" "$dir/$1.out" || fail "$1: missing line '$2'"
}

run perl --check-config -c "$dir/perl.conf"
run yaml --check-config -c "$dir/yaml.conf"
expect_same_success perl yaml
for line in quiet=1 clat-dev=clat0 clat-v6-addr=shared proxynd-enable=no ctmark=0xc1a7 \
    dns64-servers=2001:db8::53,192.0.2.53 plat-prefix=2001:db8:64::/96 forwarding-enable=no \
    v4-defaultroute-metric=2048 v4-defaultroute-advmss=1360 'script-up=echo up on $clat_dev: ok=1' \
    'tayga-extra=wkpf-strict no' 'tayga-extra=offlink-mtu 1400' route-table=0xc1a7 \
    script-timeout=30; do
    expect_line perl "$line"
done
[ "$(wc -l <"$dir/perl.out")" = 39 ] || fail "perl: expected 39 lines, got $(wc -l <"$dir/perl.out")"

overrides=(-q -d clat-dev=cli0 ctmark=0 tayga-extra=a 'tayga-extra=b c' plat-prefix=)
run perl_cli --check-config -c "$dir/perl.conf" "${overrides[@]}"
run yaml_cli "${overrides[@]}" -c "$dir/yaml.conf" --check-config
expect_same_success perl_cli yaml_cli
for line in quiet=2 debug=1 clat-dev=cli0 ctmark=0 plat-prefix= tayga-extra=a 'tayga-extra=b c'; do
    expect_line perl_cli "$line"
done
grep -q 'tayga-extra=wkpf' "$dir/perl_cli.out" && fail "command-line tayga-extra must replace the file's"

# The output is itself a valid key=value file with the same effective settings.
cp "$dir/perl.out" "$dir/roundtrip.conf"
run roundtrip --check-config -c "$dir/roundtrip.conf"
expect_same_success perl roundtrip

# expect_error NAME EXPECTED_STDERR ARGS...
expect_error() {
    local name=$1 expected=$2
    shift 2
    run "$name" "$@"
    local rc
    rc=$(cat "$dir/$name.rc")
    [ "$rc" = 2 ] || fail "$name: exit status $rc, expected 2"
    [ ! -s "$dir/$name.out" ] || fail "$name: unexpected stdout"
    [ "$(wc -l <"$dir/$name.err")" = 1 ] || fail "$name: stderr is not one line: $(cat "$dir/$name.err")"
    [ "$(cat "$dir/$name.err")" = "$expected" ] ||
        fail "$name: stderr '$(cat "$dir/$name.err")', expected '$expected'"
}

: >"$dir/empty.conf"
printf '%s\n' '- clat-dev' '- clat0' >"$dir/list.yaml"
printf '%s\n' 'clat-dev=clat0' 'v4-defaultroute-metric=abc' >"$dir/badint.conf"
printf '%s\n' 'clat-dev: clat0' 'plat-prefix: 2001:db8::/33' >"$dir/badprefix.yaml"
printf '%s\n' 'script-down=logger down' 'script-timeout=1m' >"$dir/badtimeout.conf"
mkdir "$dir/adir"

expect_error unknown_key "clatd: command line: unknown key 'foo'" --check-config -c "$dir/empty.conf" foo=1
expect_error unknown_option "clatd: command line: unknown option '--foo'" --foo
expect_error cli_int "clatd: command line: key 'v4-defaultroute-metric': 'abc' is not an integer" \
    --check-config -c "$dir/empty.conf" v4-defaultroute-metric=abc
expect_error file_int "clatd: $dir/badint.conf:2: key 'v4-defaultroute-metric': 'abc' is not an integer" \
    --check-config -c "$dir/badint.conf"
expect_error file_timeout "clatd: $dir/badtimeout.conf:2: key 'script-timeout': '1m' is not an integer" \
    --check-config -c "$dir/badtimeout.conf"
expect_error cli_timeout \
    "clatd: command line: key 'script-timeout': '90000' is out of range (0 to 86400 seconds, 0: no limit)" \
    --check-config -c "$dir/empty.conf" script-timeout=90000
expect_error cli_prefix \
    "clatd: command line: key 'plat-prefix': 2001:db8::/33 is not an RFC 6052 prefix length (32, 40, 48, 56, 64 or 96)" \
    --check-config -c "$dir/empty.conf" plat-prefix=2001:db8::/33
expect_error yaml_prefix \
    "clatd: $dir/badprefix.yaml:2: key 'plat-prefix': 2001:db8::/33 is not an RFC 6052 prefix length (32, 40, 48, 56, 64 or 96)" \
    --check-config -c "$dir/badprefix.yaml"
expect_error not_mapping "clatd: $dir/list.yaml: not a YAML mapping" --check-config -c "$dir/list.yaml"
expect_error missing "clatd: $dir/missing.conf: cannot read: No such file or directory" \
    --check-config -c "$dir/missing.conf"
expect_error directory "clatd: $dir/adir: cannot read: Is a directory" --check-config -c "$dir/adir"
# Without --check-config, a bad configuration stops clatd before anything else happens.
expect_error run_bad "clatd: command line: key 'v4-defaultroute-metric': 'abc' is not an integer" \
    -c "$dir/empty.conf" v4-defaultroute-metric=abc

# An unknown key in the file is a warning, and --check-config still succeeds.
printf '%s\n' 'clat-dev=clat0' 'no-such-key=1' >"$dir/warn.conf"
run warn --check-config -c "$dir/warn.conf"
[ "$(cat "$dir/warn.rc")" = 0 ] || fail "warn: exit status $(cat "$dir/warn.rc")"
[ "$(cat "$dir/warn.err")" = "clatd: warning: $dir/warn.conf:2: unknown key 'no-such-key' ignored" ] ||
    fail "warn: stderr '$(cat "$dir/warn.err")'"

run help -h
[ "$(cat "$dir/help.rc")" = 0 ] && grep -q '^Usage: clatd ' "$dir/help.out" || fail "-h: no usage on stdout"
run version --version
[ "$(cat "$dir/version.rc")" = 0 ] && grep -qE '^clatd [0-9]+\.[0-9]+' "$dir/version.out" ||
    fail "--version: '$(cat "$dir/version.out")'"

if [ -n "$srcdir" ]; then
    sed 's/\\-/-/g' "$srcdir/docs/clatd.conf.5" >"$dir/man.txt"
    for key in $(cut -d= -f1 "$dir/perl.out" | sort -u); do
        grep -qx "\.B $key" "$dir/man.txt" ||
            fail "clatd.conf(5) does not document '$key'"
    done
fi

# The Debian package's /etc/clatd.conf: every key once, commented out with its default, so
# that uncommenting all of them changes nothing.
if [ -n "$srcdir" ] && [ -f "$srcdir/debian/clatd.conf" ]; then
    sed -n 's/^#\([a-z0-9-]*=.*\)$/\1/p' "$srcdir/debian/clatd.conf" >"$dir/debian.conf"
    grep -qvE '^(#|$)' "$srcdir/debian/clatd.conf" && fail "debian/clatd.conf sets a key"
    run debian_defaults --check-config -c "$dir/debian.conf"
    run defaults --check-config -c "$dir/empty.conf"
    expect_same_success debian_defaults defaults
    [ "$(cut -d= -f1 "$dir/debian.conf" | sort | uniq -d)" = "" ] ||
        fail "debian/clatd.conf lists a key twice"
    [ "$(cut -d= -f1 "$dir/debian.conf" | sort)" = "$(cut -d= -f1 "$dir/defaults.out" | sort)" ] ||
        fail "debian/clatd.conf does not list every key: $(cut -d= -f1 "$dir/debian.conf" | sort |
            comm -3 - <(cut -d= -f1 "$dir/defaults.out" | sort) | tr '\n' ' ')"
fi

if [ "$failures" != 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "check_config: all passed"
