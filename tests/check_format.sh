#!/usr/bin/env bash
# Every C++ source is clang-formatted (.clang-format at the top level).
set -u
root=${1:-.}
cd "$root" || exit 1
bad=0
while IFS= read -r f; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "not clang-formatted: $f"
    bad=1
  fi
done < <(git ls-files --cached --others --exclude-standard -- agent states adapters config dbus tests | grep -E '\.(cpp|hpp|c|h)$' 2>/dev/null || find agent states adapters config dbus tests \( -name '*.[ch]pp' -o -name '*.[ch]' \))
exit $bad
