#!/usr/bin/python3
"""Prints the IPv4-embedded IPv6 address of an IPv4 address under a NAT64 prefix (RFC 6052).

Usage: rfc6052.py PREFIX IPV4      e.g. rfc6052.py 2001:db8:64::/64 198.51.100.10
"""

import ipaddress
import sys


def synthesise(prefix, ipv4):
    """RFC 6052 section 2.2: the 32 IPv4 bits follow the prefix, skipping bits 64..71 (u)."""
    net = ipaddress.IPv6Network(prefix)
    if net.prefixlen not in (32, 40, 48, 56, 64, 96):
        raise ValueError(f"{prefix}: RFC 6052 allows /32 /40 /48 /56 /64 /96 only")
    out = bytearray(net.network_address.packed)
    v4 = ipaddress.IPv4Address(ipv4).packed
    pos = net.prefixlen // 8
    for octet in v4:
        if pos == 8:
            pos += 1
        out[pos] = octet
        pos += 1
    return ipaddress.IPv6Address(bytes(out))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip())
    print(synthesise(sys.argv[1], sys.argv[2]))
