# shellcheck shell=bash
# scripts/bench --baseline REV: the clatd of another git revision, built in a temporary
# worktree, measured on the same bed as this tree's clatd. Sourced by scripts/bench before the
# bed exists; bench_use_side needs testbed.sh and bench_lib.sh.
#
# bench_baseline_build ROOT BUILD REV: checks REV out (detached) in a new worktree under BUILD
# (BUILD/bench-baseline.XXXXXX/src, its build directory src/build: the same layout relative to
# the sources as BUILD, so that ccache finds what BUILD already compiled), configures it like
# BUILD (build type, compiler launcher, CLAT_* options) and builds clatd and clatctl there.
# The measuring tool stays this tree's clat_bench, so both sides are measured by the same
# code. Sets BASELINE_DIR, BASELINE_COMMIT, BASELINE_CLATD, BASELINE_CLATCTL.
# bench_baseline_remove deletes the worktree again; scripts/bench calls it on exit.

BASELINE_DIR=
BASELINE_ROOT=

bench__base_log() { echo "bench: baseline: $*" >&2; }

bench__cache_value() { sed -n "s/^$2:[A-Z]*=//p" "$1/CMakeCache.txt" 2>/dev/null | head -n 1; }

bench_baseline_build() {
    local root=$1 build=$2 rev=$3 type launcher src options
    BASELINE_COMMIT=$(git -C "$root" rev-parse --verify --quiet "$rev^{commit}") ||
        { bench__base_log "$rev is not a revision of $root" && return 1; }
    BASELINE_ROOT=$root
    BASELINE_DIR=$(mktemp -d "$build/bench-baseline.XXXXXX") || return 1
    src=$BASELINE_DIR/src
    bench__base_log "$rev is ${BASELINE_COMMIT:0:12}; worktree $src"
    git -C "$root" worktree add --detach "$src" "$BASELINE_COMMIT" >"$BASELINE_DIR/git.log" 2>&1 ||
        { bench__base_log "git worktree add failed: $(cat "$BASELINE_DIR/git.log")" && return 1; }
    type=$(bench__cache_value "$build" CMAKE_BUILD_TYPE)
    launcher=$(bench__cache_value "$build" CMAKE_CXX_COMPILER_LAUNCHER)
    # The project's own options (CLAT_WERROR, CLAT_SANITIZE, ...) as in BUILD: the same flags
    # make the same objects, which ccache then has already.
    mapfile -t options < <(sed -n 's/^\(CLAT_[A-Z_]*\):BOOL=\(.*\)$/-D\1=\2/p' "$build/CMakeCache.txt")
    if ! cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE="${type:-RelWithDebInfo}" \
        ${launcher:+"-DCMAKE_CXX_COMPILER_LAUNCHER=$launcher"} "${options[@]}" \
        >"$BASELINE_DIR/build.log" 2>&1 ||
        ! CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root} CCACHE_NOHASHDIR=1 cmake --build "$src/build" \
            -j"${JOBS:-$(nproc)}" --target clatd clatctl >>"$BASELINE_DIR/build.log" 2>&1; then
        bench__base_log "the build of $rev failed:"
        tail -n 20 "$BASELINE_DIR/build.log" >&2
        return 1
    fi
    BASELINE_CLATD=$src/build/agent/clatd
    BASELINE_CLATCTL=$src/build/dbus/clatctl
    if [ ! -x "$BASELINE_CLATD" ] || [ ! -x "$BASELINE_CLATCTL" ]; then
        bench__base_log "no clatd or clatctl in $src/build"
        return 1
    fi
}

## bench_baseline_remove: deletes the temporary worktree and its build (idempotent).
bench_baseline_remove() {
    [ -n "$BASELINE_DIR" ] || return 0
    if [ -d "$BASELINE_DIR/src" ]; then
        git -C "$BASELINE_ROOT" worktree remove --force "$BASELINE_DIR/src" >/dev/null 2>&1
    fi
    rm -rf "$BASELINE_DIR"
    git -C "$BASELINE_ROOT" worktree prune >/dev/null 2>&1
    bench__base_log "worktree $BASELINE_DIR removed"
    BASELINE_DIR=
}

BENCH_SIDE=

## bench_use_side this|baseline: the clatd (and clatctl) that the figures measure from now on,
## and the results file they write ($TB_DIR/bench.SIDE.results). A running clatd of the
## other side is stopped first.
bench_use_side() {
    [ "$1" = "$BENCH_SIDE" ] && return 0
    [ -z "$(tb_clatd_pid)" ] || tb_clatd_stop >/dev/null 2>&1
    case $1 in
    this) CLATD=$THIS_CLATD CLATCTL=$THIS_CLATCTL ;;
    baseline) CLATD=$BASELINE_CLATD CLATCTL=$BASELINE_CLATCTL ;;
    esac
    export CLATD CLATCTL
    RESULTS=$TB_DIR/bench.$1.results
    touch "$RESULTS"
    BENCH_SIDE=$1
}
