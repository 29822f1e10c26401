#!/usr/bin/python3
"""Sends Router Advertisements carrying only a PREF64 option (RFC 8781) on one link.

radvd 2.19 cannot send PREF64, so the test bed runs this next to it. The RA must carry the same
Router Lifetime as radvd's: a lifetime of 0 would remove the host's default route (RFC 4861
section 6.3.4). Periodic mode also answers Router Solicitations, like a router would, so a
host that comes up learns the prefix at once rather than at the next period.

Usage: ra_sender.py --iface lan0 --prefix 2001:db8:64::/96 --lifetime 600
                    --router-lifetime 300 [--interval 3 | --once]
"""

import argparse
import ipaddress
import math
import select
import signal
import socket
import struct
import sys
import time

ICMP6_FILTER = 1
ND_ROUTER_SOLICIT = 133
ND_ROUTER_ADVERT = 134
ND_OPT_PREF64 = 38
# RFC 8781 section 4: Prefix Length Code.
PLC_BY_LENGTH = {96: 0, 64: 1, 56: 2, 48: 3, 40: 4, 32: 5}


def link_local_address(iface):
    """The interface's link-local address (scope 0x20 in /proc/net/if_inet6), or None: a
    link without carrier has none yet."""
    with open("/proc/net/if_inet6", encoding="ascii") as f:
        for line in f:
            hexaddr, _, _, scope, _, name = line.split()
            if name == iface and int(scope, 16) == 0x20:
                return ipaddress.IPv6Address(bytes.fromhex(hexaddr))
    return None


def send(sock, iface, index, ra):
    """Sends RA to ff02::1 from the link-local address; False if the link has none (no
    carrier yet) or is down. RFC 4861 section 4.2: an RA's source must be link-local."""
    source = link_local_address(iface)
    if source is None:
        return False
    pktinfo = source.packed + struct.pack("=I", index)
    try:
        sock.sendmsg([ra], [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, pktinfo)], 0,
                     ("ff02::1", 0, 0, index))
    except OSError as err:
        print(f"ra_sender: {iface}: {err.strerror}", flush=True)
        return False
    return True


def pref64_option(prefix, lifetime):
    """Option 38: scaled lifetime in units of 8 s (13 bits), PLC (3 bits), 96 prefix bits."""
    net = ipaddress.IPv6Network(prefix)
    if net.prefixlen not in PLC_BY_LENGTH:
        raise SystemExit(f"ra_sender: {prefix}: RFC 8781 allows /32 /40 /48 /56 /64 /96 only")
    scaled = min(math.ceil(lifetime / 8), 0x1FFF)
    return struct.pack("!BBH", ND_OPT_PREF64, 2, (scaled << 3) | PLC_BY_LENGTH[net.prefixlen]) + (
        net.network_address.packed[:12]
    )


def router_advertisement(router_lifetime, options):
    # Cur Hop Limit, Reachable Time and Retrans Timer 0 mean "unspecified": the host keeps
    # what radvd told it. The kernel fills in the ICMPv6 checksum on raw ICMPv6 sockets.
    return struct.pack("!BBHBBHII", ND_ROUTER_ADVERT, 0, 0, 0, 0, router_lifetime, 0, 0) + options


def open_socket(iface):
    sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    index = socket.if_nametoindex(iface)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
    # RFC 4861 section 6.1.2: hosts drop RAs whose hop limit is not 255.
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
    # Pass only Router Solicitations to recv(); everything else is blocked (bit set = block).
    words = [0xFFFFFFFF] * 8
    words[ND_ROUTER_SOLICIT >> 5] &= ~(1 << (ND_ROUTER_SOLICIT & 31))
    sock.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, struct.pack("=8I", *words))
    return sock, index


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iface", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--lifetime", type=int, required=True, help="PREF64 lifetime, seconds")
    parser.add_argument("--router-lifetime", type=int, required=True)
    parser.add_argument("--interval", type=float, default=3.0)
    parser.add_argument("--once", action="store_true", help="send three RAs and exit")
    args = parser.parse_args()

    sock, index = open_socket(args.iface)
    ra = router_advertisement(args.router_lifetime, pref64_option(args.prefix, args.lifetime))
    if args.once:
        sent = 0
        for _ in range(3):
            sent += send(sock, args.iface, index, ra)
            time.sleep(0.1)
        return 0 if sent else 1

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"ra_sender: {args.prefix} lifetime {args.lifetime} on {args.iface}", flush=True)
    next_send = 0.0
    last_sent = 0.0
    while True:
        now = time.monotonic()
        if now >= next_send:
            if send(sock, args.iface, index, ra):
                last_sent = now
            next_send = now + args.interval
        ready, _, _ = select.select([sock], [], [], max(0.0, next_send - now))
        if ready:
            sock.recv(1500)
            # Answer a solicitation at once, but at most twice a second.
            if time.monotonic() - last_sent > 0.5:
                next_send = 0.0

if __name__ == "__main__":
    sys.exit(main())
