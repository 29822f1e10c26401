#!/usr/bin/env bash
# docs/conformance.md names its proofs as `tests/FILE` "NAME": every FILE must exist and every
# NAME must appear in it verbatim (a doctest TEST_CASE or an e2e check label). Exit 1 naming
# each proof that does not.
# Usage: check_conformance.sh [SOURCE_DIR]
set -u
root=${1:-.}
doc=$root/docs/conformance.md
[ -f "$doc" ] || { echo "no $doc"; exit 1; }
bad=0 proofs=0
while IFS=$'\t' read -r file name; do
    proofs=$((proofs + 1))
    if [ ! -f "$root/$file" ]; then
        echo "missing file: $file"
        bad=$((bad + 1))
    elif [ -n "$name" ] && ! grep -qF -- "$name" "$root/$file"; then
        echo "not in $file: \"$name\""
        bad=$((bad + 1))
    fi
done < <(grep -oE '`tests/[^`]+`( "[^"]+")?' "$doc" |
    sed -E 's/^`([^`]+)`( "(.*)")?$/\1\t\3/')
[ "$proofs" -gt 0 ] || { echo "no proofs found in $doc"; exit 1; }
if [ "$bad" != 0 ]; then
    echo "$bad of $proofs proofs in docs/conformance.md do not exist"
    exit 1
fi
echo "conformance: all $proofs proofs exist"
