#!/usr/bin/env bash
# Runs a kernel test binary in a fresh network namespace of its own, so that nothing it does
# can touch the host and everything it created disappears when it exits, even on a crash.
# Exit 77 (skipped) when not root.
set -u
if [ "$(id -u)" -ne 0 ]; then
  echo "skipped: kernel tests need root (network namespaces)"
  exit 77
fi
exec unshare --net -- sh -c 'ip link set lo up && exec "$@"' in_netns "$@"
