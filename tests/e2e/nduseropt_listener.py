#!/usr/bin/python3
"""Prints the RA options the kernel hands to user space (RTM_NEWNDUSEROPT).

The kernel passes options it does not process itself (RDNSS, DNSSL, PREF64...) to the netlink
group RTNLGRP_ND_USEROPT, and only for RAs that accept_ra lets it process. `ip monitor` cannot
show these messages, hence this listener. One line per option, e.g.
    pref64 prefix=2001:db8:64::/96 lifetime=600 ifindex=2 src=fe80::1
    option type=25 len=24 ifindex=2 src=fe80::1

Usage: nduseropt_listener.py [--type 38] [--count N] [--timeout S] [--ready-file PATH]
Exits 0 after COUNT matching options, 1 if the timeout passes first.
"""

import argparse
import ipaddress
import select
import socket
import struct
import sys
import time

SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
RTNLGRP_ND_USEROPT = 20
RTM_NEWNDUSEROPT = 68
NDUSEROPT_SRCADDR = 1
ND_OPT_PREF64 = 38
LENGTH_BY_PLC = {0: 96, 1: 64, 2: 56, 3: 48, 4: 40, 5: 32}


def describe_option(opt):
    """One line for one ND option (type, length in 8-octet units, body)."""
    kind = opt[0]
    if kind == ND_OPT_PREF64 and len(opt) >= 16:
        (sl_plc,) = struct.unpack("!H", opt[2:4])
        plc = sl_plc & 7
        length = LENGTH_BY_PLC.get(plc)
        if length is None:
            return f"pref64 invalid-plc={plc}"
        prefix = ipaddress.IPv6Network((opt[4:16] + bytes(4), length), strict=False)
        return f"pref64 prefix={prefix} lifetime={(sl_plc >> 3) * 8}"
    return f"option type={kind} len={len(opt)}"


def parse_useropt(body):
    """Yields (type, line) for each option of one RTM_NEWNDUSEROPT message body."""
    family, _, opts_len, ifindex, _, _, _, _ = struct.unpack("=BBHiBBHI", body[:16])
    if family != socket.AF_INET6:
        return
    opts = body[16 : 16 + opts_len]
    src = "?"
    attrs = body[16 + ((opts_len + 3) & ~3) :]
    while len(attrs) >= 4:
        alen, atype = struct.unpack("=HH", attrs[:4])
        if alen < 4:
            break
        if atype == NDUSEROPT_SRCADDR and alen >= 20:
            src = str(ipaddress.IPv6Address(attrs[4:20]))
        attrs = attrs[(alen + 3) & ~3 :]
    while len(opts) >= 2 and opts[1] > 0:
        size = opts[1] * 8
        yield opts[0], f"{describe_option(opts[:size])} ifindex={ifindex} src={src}"
        opts = opts[size:]


def messages(data):
    """Yields (type, body) for each netlink message in one datagram."""
    while len(data) >= 16:
        length, kind = struct.unpack("=IH", data[:6])
        if length < 16:
            break
        yield kind, data[16:length]
        data = data[(length + 3) & ~3 :]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--type", type=int, help="print only options of this type")
    parser.add_argument("--count", type=int, default=0, help="exit after this many (0: never)")
    parser.add_argument("--timeout", type=float, default=0, help="seconds (0: none)")
    parser.add_argument("--ready-file", help="created once subscribed")
    args = parser.parse_args()

    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    sock.bind((0, 0))
    sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, RTNLGRP_ND_USEROPT)
    if args.ready_file:
        with open(args.ready_file, "w", encoding="ascii"):
            pass
    deadline = time.monotonic() + args.timeout if args.timeout else None
    seen = 0
    while True:
        wait = None if deadline is None else deadline - time.monotonic()
        if wait is not None and wait <= 0:
            return 1
        ready, _, _ = select.select([sock], [], [], wait)
        if not ready:
            continue
        for kind, body in messages(sock.recv(65536)):
            if kind != RTM_NEWNDUSEROPT:
                continue
            for opt_type, line in parse_useropt(body):
                if args.type is not None and opt_type != args.type:
                    continue
                print(line, flush=True)
                seen += 1
                if args.count and seen >= args.count:
                    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
