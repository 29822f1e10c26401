#!/usr/bin/env bash
# package.deb: the Debian package end to end on this machine. Builds it with scripts/package,
# runs lintian (any E: fails), installs it with `apt-get install ./clatd_*.deb`, checks that
# every file is where Debian expects it, that /etc/clatd.conf is a conffile whose settings are
# the defaults, that the unit is enabled the Debian way (deb-systemd-helper), then purges it and
# checks that nothing of it is left. The service is never started: with systemd running, a
# policy-rc.d that denies every start is put in place for the duration (or one already there
# must deny). The machine is left as it was found, also on failure (the trap purges clatd and
# whatever the install pulled in).
# Usage: package_test.sh SOURCE_DIR [OUT_DIR]   (OUT_DIR, kept afterwards, receives the .deb and
# the logs; default: a temporary directory). CLATD_DEB=FILE tests that package instead of
# building one. Exit 77 (skipped) when not root, when apt or dpkg is unusable, when clatd is
# already installed, or when a start of the service could not be prevented.
set -u
src=$(cd "${1:?usage: package_test.sh SOURCE_DIR [OUT_DIR]}" && pwd)
if [ -n "${2:-}" ]; then
    out=$2
    mkdir -p "$out" || exit 1
else
    out=$(mktemp -d /tmp/clatd-package-test.XXXXXX) || exit 1
    own_out=1
fi
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

skip() {
    echo "skipped: $*"
    exit 77
}
[ "$(id -u)" -eq 0 ] || skip "installing a package needs root"
for tool in apt-get dpkg dpkg-query; do
    command -v "$tool" >/dev/null || skip "$tool is not installed"
done
# True while dpkg has clatd in any state but not-installed (installed, config-files, ...).
clatd_known() {
    case "$(dpkg-query -W -f='${Status}' clatd 2>/dev/null)" in
    "" | *not-installed) return 1 ;;
    *) return 0 ;;
    esac
}
! clatd_known || skip "a clatd package is already installed; this test will not replace it"
apt-get check -qq >/dev/null 2>&1 || skip "apt is unusable here (apt-get check failed)"
# The purge removes clatd's runtime directory: one that is there already is not ours.
[ ! -e /run/clatd ] || skip "/run/clatd exists (a clatd is running?); the purge would remove it"

failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}
check_file() { [ -f "$1" ] || fail "$1 is not installed"; }
check_gone() { [ ! -e "$1" ] && [ ! -L "$1" ] || fail "$1 is still there after purge"; }

policy=/usr/sbin/policy-rc.d
policy_mark="# clatd package.deb test: deny every start"
new_pkgs=()
made_run_dir=
cleanup() {
    if clatd_known; then
        echo "cleanup: purging clatd ${new_pkgs[*]}"
        apt-get purge -y -qq -o DPkg::Lock::Timeout=300 clatd "${new_pkgs[@]}" >/dev/null 2>&1
    fi
    if [ -f "$policy" ] && grep -qxF "$policy_mark" "$policy"; then
        rm -f "$policy"
    fi
    [ -n "$made_run_dir" ] && rm -rf /run/clatd
    [ -z "${own_out:-}" ] || rm -rf "$out"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# With systemd running, the postinst would start clatd on this machine: deny it.
if [ -d /run/systemd/system ]; then
    if [ -e "$policy" ]; then
        "$policy" clatd.service start >/dev/null 2>&1
        [ $? -eq 101 ] || skip "$policy exists and would let the package start clatd"
    else
        printf '#!/bin/sh\n%s\nexit 101\n' "$policy_mark" >"$policy"
        chmod 755 "$policy"
    fi
fi

if [ -n "${CLATD_DEB:-}" ]; then
    cp "$CLATD_DEB" "$out/" || exit 1
    deb=$out/$(basename "$CLATD_DEB")
else
    echo "== build (scripts/package)"
    start=$(date +%s)
    OUT_DIR=$out JOBS=${JOBS:-$(nproc)} DEB_BUILD_OPTIONS=noautodbgsym bash "$src/scripts/package" ||
        { echo "FAIL: scripts/package failed"; exit 1; }
    echo "built in $(($(date +%s) - start)) s"
    debs=("$out"/clatd_*.deb)
    [ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || { echo "FAIL: not one clatd_*.deb in $out"; exit 1; }
    deb=${debs[0]}
fi

echo "== lintian"
if ! command -v lintian >/dev/null; then
    apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 lintian >/dev/null ||
        skip "lintian cannot be installed"
fi
lintian --display-info "$deb" 2>&1 | grep -v '^running with root privileges' | tee "$out/lintian.txt"
grep -q '^E: ' "$out/lintian.txt" && fail "lintian reports errors"

echo "== install (apt-get install ./$(basename "$deb"))"
(cd "$out" && apt-get install -y -o DPkg::Lock::Timeout=300 "./$(basename "$deb")") \
    >"$out/install.txt" 2>&1 || { cat "$out/install.txt"; echo "FAIL: apt-get install failed"; exit 1; }
# What apt installed besides clatd is purged with it (the machine is left as found).
read -r -a new_pkgs < <(sed -n '/^The following NEW packages will be installed:/,/^[^ ]/{/^ /p}' \
    "$out/install.txt" | tr ' ' '\n' | grep -vx -e '' -e clatd | tr '\n' ' ')
echo "installed; pulled in: ${new_pkgs[*]:-nothing}"

files=(/usr/sbin/clatd /usr/bin/clatctl /lib/systemd/system/clatd.service
       /usr/share/dbus-1/system.d/net.clatd.conf /usr/share/dbus-1/interfaces/net.clatd.Agent1.xml
       /usr/share/man/man8/clatd.8.gz /usr/share/man/man8/clatctl.8.gz
       /usr/share/man/man5/clatd.conf.5.gz /usr/share/doc/clatd/copyright /etc/clatd.conf)
for f in "${files[@]}"; do check_file "$f"; done
[ -x /usr/sbin/clatd ] && [ -x /usr/bin/clatctl ] || fail "clatd or clatctl is not executable"
grep -qx 'ExecStart=/usr/sbin/clatd' /lib/systemd/system/clatd.service ||
    fail "the unit does not start /usr/sbin/clatd"
dpkg-query -W -f='${Conffiles}\n' clatd | grep -q '^ /etc/clatd.conf ' ||
    fail "/etc/clatd.conf is not a conffile"
/usr/sbin/clatd --version >/dev/null || fail "the installed clatd does not run"
/usr/bin/clatctl --help >/dev/null 2>&1 || fail "the installed clatctl does not run"
# Every key commented out: the installed file reads as the defaults.
[ "$(/usr/sbin/clatd --check-config)" = "$(/usr/sbin/clatd --check-config -c /dev/null)" ] ||
    fail "/etc/clatd.conf does not read as the defaults"

wants=/etc/systemd/system/multi-user.target.wants/clatd.service
[ "$(readlink "$wants")" = /lib/systemd/system/clatd.service ] ||
    fail "the unit is not enabled ($wants -> '$(readlink "$wants")')"
if command -v systemctl >/dev/null; then
    # Works without systemd running too (it reads the unit files).
    state=$(systemctl is-enabled clatd 2>&1)
    [ "$state" = enabled ] || fail "systemctl is-enabled clatd: $state"
fi
if [ -d /run/systemd/system ]; then
    state=$(systemctl is-active clatd 2>&1)
    [ "$state" = inactive ] || fail "clatd was started by the install (is-active: $state)"
fi

# What the service would have left in its runtime directory (RuntimeDirectoryPreserve=yes).
made_run_dir=1
mkdir -m 700 /run/clatd && : >/run/clatd/clatd.journal && : >/run/clatd/clatd.lock

echo "== purge"
apt-get purge -y -qq -o DPkg::Lock::Timeout=300 clatd "${new_pkgs[@]}" >"$out/purge.txt" 2>&1 ||
    { cat "$out/purge.txt"; fail "apt-get purge failed"; }
for f in "${files[@]}" "$wants" /var/lib/systemd/deb-systemd-helper-enabled/clatd.service \
    /var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/clatd.service /run/clatd; do
    check_gone "$f"
done
! clatd_known || fail "dpkg still knows clatd: $(dpkg-query -W -f='${Status}' clatd)"

if [ "$failures" != 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "package.deb: all passed"
