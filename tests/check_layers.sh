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
# The ports are interfaces: the core's types only, nothing of an adapter or a library.
ports=$(grep -nE "$pattern" "$root"/ports/*.hpp 2>/dev/null | grep -v 'layers: allow')
# The agent runs effects over the ports: it must not reach an adapter directly (main.cpp
# wires them; logging.cpp installs the journal sink).
agent=$(grep -nE '#include[[:space:]]*"adapters/' "$root"/agent/agent*.hpp "$root"/agent/agent*.cpp \
        "$root"/agent/executor.* 2>/dev/null)
if [ -n "$ports$agent" ]; then
  echo "forbidden include in ports/ or the agent:"
  printf '%s\n' "$ports" "$agent" | sed '/^$/d'
  exit 1
fi
echo "layers ok: states/ includes only the standard library and itself"
echo "layers ok: ports/ holds interfaces only; the agent uses no adapter directly"
