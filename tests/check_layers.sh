#!/usr/bin/env bash
# The pure core (states/ and the Config struct) must not include Asio, libnl, sd-bus, c-ares,
# yaml-cpp, spdlog or any C library / system-call header. Exit 1 naming each offending line.
set -u
root=${1:-.}
pattern='#include[[:space:]]*[<"](boost/|netlink/|systemd/|ares|yaml-cpp/|spdlog/|fmt/|sys/|arpa/|netinet/|linux/|unistd\.h|fcntl\.h|signal\.h|ctime|time\.h|random|thread|fstream|iostream|agent/|adapters/|dbus/)'
bad=$(grep -nE "$pattern" "$root"/states/*.hpp "$root"/states/*.cpp "$root"/config/config.hpp 2>/dev/null \
      | grep -v 'layers: allow')
clock=$(grep -nE '_clock::now|std::rand|random_device' "$root"/states/*.[ch]pp 2>/dev/null)
bad="$bad$clock"
if [ -n "$bad" ]; then
  echo "forbidden include in the pure core:"
  echo "$bad"
  exit 1
fi
echo "layers ok: states/ includes only the standard library and itself"
