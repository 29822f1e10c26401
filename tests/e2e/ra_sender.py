#!/usr/bin/python3
"""Sends Router Advertisements carrying only a PREF64 option (RFC 8781) on one link.

radvd 2.19 cannot send PREF64, so the test bed runs this next to it. The RA must carry the same
Router Lifetime as radvd's: a lifetime of 0 would remove the host's default route (RFC 4861
section 6.3.4). Periodic mode also answers Router Solicitations, like a router would, so a
host that comes up learns the prefix at once rather than at the next period.

Usage: ra_sender.py --iface lan0 --prefix 2001:db8:64::/96 --lifetime 600
                    --router-lifetime 300 [--interval 3 | --once]

Answer-only (--answer-rs): no periodic RAs; each Router Solicitation with hop limit 255 (RFC
4861 section 6.1.1) is answered at once with the PREF64 RA, and logged with its source and size:
       ra_sender.py --iface lan0 --prefix 2001:db8:64::/96 --lifetime 600
                    --router-lifetime 300 --answer-rs

Crafted RAs (the fault tests): each --ra is one RA, a space-separated list of option specs,
and --count N sends N RAs cycling through them, --rate per second (0: as fast as possible):
       ra_sender.py --iface lan0 --router-lifetime 300 --count 2000 --rate 0 \
                    --ra "pref64=2001:db8:64::/96@600 plc7=2001:db8:bad::/96@600" --ra "zero"
Option specs (PREFIX@LIFETIME: the prefix bits and lifetime written into the option):
  pref64=P@L   a valid RFC 8781 option; P of /32 /40 /48 /56 /64 /96 (L=0 withdraws)
  plc6=P@L, plc7=P@L   the reserved Prefix Length Codes 6 and 7, P's first 96 bits
  len1=P       type 38 with Length 1 (8 bytes: the lifetime/PLC word and 4 prefix bytes)
  len3=P@L     type 38 with Length 3 (24 bytes, a valid-looking option padded with zeros)
  zero         type 38 with Length 0 (RFC 4861 section 4.6: invalid)
  overrun=P@L  type 38 claiming Length 2 (16 bytes) with only 8 bytes left in the RA; it is
               moved to the end of its RA
  other        an unknown option type (253, RFC 4727 experimental), 8 bytes
"""

import argparse
import errno
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


def pref64_word(lifetime, plc):
    return struct.pack("!H", (min(math.ceil(lifetime / 8), 0x1FFF) << 3) | plc)


def crafted_option(spec):
    """The bytes of one option spec (see the usage); overrun options are returned as is and
    placed last by crafted_ra."""
    kind, _, arg = spec.partition("=")
    prefix, _, lifetime = arg.partition("@")
    lifetime = int(lifetime) if lifetime else 600
    bits = bytes(12)
    if prefix:
        bits = ipaddress.IPv6Network(prefix, strict=False).network_address.packed[:12]
    if kind == "pref64":
        return pref64_option(prefix, lifetime)
    if kind in ("plc6", "plc7"):
        return struct.pack("!BB", ND_OPT_PREF64, 2) + pref64_word(lifetime, int(kind[3])) + bits
    if kind == "len1":
        return struct.pack("!BB", ND_OPT_PREF64, 1) + pref64_word(lifetime, 0) + bits[:4]
    if kind == "len3":
        return struct.pack("!BB", ND_OPT_PREF64, 3) + pref64_word(lifetime, 0) + bits + bytes(8)
    if kind == "zero":
        return struct.pack("!BB", ND_OPT_PREF64, 0) + bytes(6)
    if kind == "overrun":
        return struct.pack("!BB", ND_OPT_PREF64, 2) + pref64_word(lifetime, 0) + bits[:4]
    if kind == "other":
        return struct.pack("!BB", 253, 1) + bytes(6)
    raise SystemExit(f"ra_sender: unknown option spec {spec!r}")


def crafted_ra(router_lifetime, specs):
    """One RA from a space-separated list of option specs."""
    specs = specs.split()
    last = [s for s in specs if s.startswith("overrun")]
    options = [crafted_option(s) for s in specs if not s.startswith("overrun")]
    options += [crafted_option(s) for s in last]
    return router_advertisement(router_lifetime, b"".join(options))


def flood(sock, iface, index, ras, count, rate):
    """Sends COUNT RAs cycling through RAS, RATE per second (0: at once); returns how many
    went out. A full socket buffer (ENOBUFS) is waited out, not counted."""
    source = link_local_address(iface)
    if source is None:
        return 0
    pktinfo = source.packed + struct.pack("=I", index)
    ancillary = [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, pktinfo)]
    sent = 0
    start = time.monotonic()
    for i in range(count):
        if rate > 0:
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        for _ in range(1000):
            try:
                sock.sendmsg([ras[i % len(ras)]], ancillary, 0, ("ff02::1", 0, 0, index))
                sent += 1
                break
            except OSError as err:
                if err.errno not in (errno.ENOBUFS, errno.EAGAIN):
                    print(f"ra_sender: {iface}: {err.strerror}", flush=True)
                    return sent
                time.sleep(0.001)
    return sent


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


def answer_solicitations(sock, iface, index, ra):
    """Answers every valid RS with RA, forever (until SIGTERM)."""
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
    while True:
        data, ancillary, _, source = sock.recvmsg(1500, socket.CMSG_SPACE(4))
        hop_limit = -1
        for level, kind, value in ancillary:
            if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_HOPLIMIT:
                hop_limit = struct.unpack("=i", value[:4])[0]
        valid = hop_limit == 255 and len(data) >= 8 and data[1] == 0
        answered = valid and send(sock, iface, index, ra)
        print(f"ra_sender: RS from {source[0].split('%')[0]} hop limit {hop_limit} "
              f"length {len(data)}: {'answered' if answered else 'ignored'}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iface", required=True)
    parser.add_argument("--prefix")
    parser.add_argument("--lifetime", type=int, help="PREF64 lifetime, seconds")
    parser.add_argument("--router-lifetime", type=int, required=True)
    parser.add_argument("--interval", type=float, default=3.0)
    parser.add_argument("--once", action="store_true", help="send three RAs and exit")
    parser.add_argument("--answer-rs", action="store_true",
                        help="no periodic RAs: answer each Router Solicitation")
    parser.add_argument("--ra", action="append", help="crafted RA: option specs (see above)")
    parser.add_argument("--count", type=int, default=1, help="crafted RAs to send")
    parser.add_argument("--rate", type=float, default=0, help="crafted RAs per second, 0: max")
    args = parser.parse_args()

    if args.ra:
        sock, index = open_socket(args.iface)
        ras = [crafted_ra(args.router_lifetime, specs) for specs in args.ra]
        sent = flood(sock, args.iface, index, ras, args.count, args.rate)
        print(f"ra_sender: {sent} crafted RAs on {args.iface}", flush=True)
        return 0 if sent == args.count else 1
    if args.prefix is None or args.lifetime is None:
        parser.error("--prefix and --lifetime are required without --ra")
    sock, index = open_socket(args.iface)
    ra = router_advertisement(args.router_lifetime, pref64_option(args.prefix, args.lifetime))
    if args.once:
        sent = 0
        for _ in range(3):
            sent += send(sock, args.iface, index, ra)
            time.sleep(0.1)
        return 0 if sent else 1

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.answer_rs:
        print(f"ra_sender: {args.prefix} lifetime {args.lifetime} on {args.iface}, "
              "answering RS only", flush=True)
        answer_solicitations(sock, args.iface, index, ra)
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
