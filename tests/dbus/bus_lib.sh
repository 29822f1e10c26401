# Shell helpers for the D-Bus tests: a private system-bus-style dbus-daemon. Source it.

# write_bus_config CONF SOCKET POLICY... — a system bus like /usr/share/dbus-1/system.conf,
# minus <user> (stay root: switching user would need the socket dir to be messagebus's),
# listening on SOCKET and including each POLICY file.
write_bus_config() {
    local conf=$1 socket=$2 policy
    shift 2
    {
        cat <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <auth>EXTERNAL</auth>
  <listen>unix:path=$socket</listen>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
EOF
        for policy in "$@"; do
            echo "  <include>$policy</include>"
        done
        echo "</busconfig>"
    } >"$conf"
}

# start_bus CONF PIDFILE — starts dbus-daemon in the background; fails if it does not come up.
start_bus() {
    dbus-daemon --config-file="$1" --fork --print-pid=3 3>"$2" || return 1
    [ -s "$2" ]
}

# stop_bus PIDFILE — stops the daemon started with this pid file, if any, and waits (up to
# 10 s) until it has exited: a daemon still exiting unlinks its socket path, which may by then
# be the next daemon's (the agent then found no bus for good; seen under load).
stop_bus() {
    local pid i
    pid=$(cat "$1" 2>/dev/null) || return 0
    if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    rm -f "$1"
    return 0
}
