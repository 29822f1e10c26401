#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/): small valid
inputs, so that the fuzzers start from the shapes the parsers accept. Run from anywhere;
the output is deterministic. Regression seeds (inputs that once crashed) are kept by hand."""

import ipaddress
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    path = os.path.join(HERE, "corpus", target)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def v6(text):
    return ipaddress.IPv6Address(text).packed


def v4(text):
    return ipaddress.IPv4Address(text).packed


# --- config_fuzz -----------------------------------------------------------------------------

PERL = """# clatd.conf, Perl style
clat-dev=clat0
clat-v4-addr=192.0.0.5
clat-v6-addr=derived
dns64-servers=2001:db8::53,192.0.2.53
plat-prefix=2001:db8:64::/96
v4-defaultroute-mtu=1400
route-table=0x100
tayga-extra=wkpf-strict no
tayga-extra=offlink-mtu 1400
"""

YAML = """---
quiet: 1
clat-dev: clat0
clat-v6-addr: shared
dns64-servers: [2001:db8::53, 192.0.2.53]
plat-fallback-prefix: 64:ff9b::/96
forwarding-enable: false
v4-defaultroute-advmss: 1300
dbus-admin-group: netadmin
tayga-extra:
  - wkpf-strict no
"""

YAML_FLOW = '{clat-dev: "c", script-up: "echo up", ip6tables-enable: ~, ctmark: 42}\n'

# --- dns_answer_fuzz -------------------------------------------------------------------------


def dns_name(name):
    out = b""
    for label in name.split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def dns_answer(addresses, rcode=0, ttl=300):
    header = struct.pack("!HHHHHH", 0x1234, 0x8180 | rcode, 1, len(addresses), 0, 0)
    question = dns_name("ipv4only.arpa") + struct.pack("!HH", 28, 1)
    answers = b""
    for i, a in enumerate(addresses):
        # 0xc00c: a pointer to the name in the question (RFC 1035 §4.1.4).
        answers += struct.pack("!HHHIH", 0xC00C, 28, 1, ttl + i, 16) + v6(a)
    return header + question + answers


# --- ra_option_fuzz --------------------------------------------------------------------------

PLC_LENGTHS = [96, 64, 56, 48, 40, 32]


def pref64_option(prefix, lifetime):
    net = ipaddress.IPv6Network(prefix)
    plc = PLC_LENGTHS.index(net.prefixlen)
    word = (lifetime // 8) << 3 | plc
    return struct.pack("!BBH", 38, 2, word) + net.network_address.packed[:12]


# --- netlink_fuzz ----------------------------------------------------------------------------

RTM_NEWLINK, RTM_DELLINK, RTM_NEWADDR, RTM_DELADDR = 16, 17, 20, 21
RTM_NEWROUTE, RTM_DELROUTE, RTM_NEWNEIGH, RTM_DELNEIGH, RTM_NEWNDUSEROPT = 24, 25, 28, 29, 68
NTF_PROXY = 0x08
NLM_F_REPLACE = 0x100
IFF_UP, IFF_LOWER_UP = 0x1, 0x10000


def align4(data):
    return data + b"\0" * (-len(data) % 4)


def attr(kind, payload):
    return align4(struct.pack("=HH", 4 + len(payload), kind) + payload)


def message(kind, body, flags=0):
    body = align4(body)
    return struct.pack("=IHHII", 16 + len(body), kind, flags, 1, 0) + body


def link(kind, index, name, flags, mtu, link_kind=None):
    body = struct.pack("=BBHiII", 0, 0, 1, index, flags, 0)
    body += attr(3, name.encode() + b"\0") + attr(4, struct.pack("=I", mtu))
    if link_kind:
        body += attr(18 | 0x8000, attr(1, link_kind.encode() + b"\0"))
    return message(kind, body)


def address(kind, family, index, addr, prefixlen, flags=0):
    body = struct.pack("=BBBBI", family, prefixlen, flags & 0xFF, 0, index)
    packed = v4(addr) if family == 2 else v6(addr)
    body += attr(1, packed) + attr(2, packed) + attr(8, struct.pack("=I", flags))
    return message(kind, body)


def route(kind, family, dst, oif=None, gateway=None, metric=None, table=254, mtu=None,
          multipath=None, flags=0):
    net = ipaddress.ip_network(dst)
    body = struct.pack("=BBBBBBBBI", family, net.prefixlen, 0, 0, min(table, 255), 3, 0, 1, 0)
    if net.prefixlen:
        body += attr(1, net.network_address.packed)
    if oif is not None:
        body += attr(4, struct.pack("=I", oif))
    if gateway:
        body += attr(5, ipaddress.ip_address(gateway).packed)
    if metric is not None:
        body += attr(6, struct.pack("=I", metric))
    body += attr(15, struct.pack("=I", table))
    if mtu:
        body += attr(8 | 0x8000, attr(2, struct.pack("=I", mtu)) + attr(8, struct.pack("=I", mtu - 40)))
    if multipath:
        hop_oif, hop_gw = multipath
        hop_attrs = attr(5, ipaddress.ip_address(hop_gw).packed)
        body += attr(9, struct.pack("=HBBi", 8 + len(hop_attrs), 0, 0, hop_oif) + hop_attrs)
    return message(kind, body, flags)


def proxy_neighbour(kind, index, addr):
    # struct ndmsg: family, pad, pad, ifindex, state, flags, type; then NDA_DST.
    body = struct.pack("=BBHiHBB", 10, 0, 0, index, 0, NTF_PROXY, 0) + attr(1, v6(addr))
    return message(kind, body)


def nduseropt(index, options):
    body = struct.pack("=BBHiBBHI", 10, 0, len(options), index, 134, 0, 0, 0) + options
    body = align4(body)
    body += attr(1, v6("fe80::1"))  # NDUSEROPT_SRCADDR
    return message(RTM_NEWNDUSEROPT, body)


def main():
    write("config_fuzz", "perl.conf", PERL)
    write("config_fuzz", "yaml.conf", YAML)
    write("config_fuzz", "yaml_flow.conf", YAML_FLOW)
    write("config_fuzz", "empty.conf", "# nothing\n")

    write("dns_answer_fuzz", "wkp_96", dns_answer(["64:ff9b::c000:aa", "64:ff9b::c000:ab"]))
    # 2001:db8:1:2::/64: the IPv4 address follows the u-octet (RFC 6052 §2.2).
    write("dns_answer_fuzz", "prefix_64", dns_answer(["2001:db8:1:2:c0:0:aa00:0"]))
    write("dns_answer_fuzz", "prefix_56", dns_answer(["2001:db8:1:c0:0:aa:0:0"]))
    write("dns_answer_fuzz", "ambiguous", dns_answer(["64:ff9b::c000:aa", "2001:db8:64::c000:ab"]))
    write("dns_answer_fuzz", "no_synthesis", dns_answer(["2001:db8::1"]))
    write("dns_answer_fuzz", "nodata", dns_answer([]))
    write("dns_answer_fuzz", "nxdomain", dns_answer([], rcode=3))

    prefixes = ["64:ff9b::/96", "2001:db8:1:2::/64", "2001:db8:1:200::/56", "2001:db8:1::/48",
                "2001:db8:100::/40", "2001:db8::/32"]
    for plc, prefix in enumerate(prefixes):
        write("ra_option_fuzz", "plc%d" % plc, pref64_option(prefix, 1800))
    write("ra_option_fuzz", "withdraw", pref64_option("64:ff9b::/96", 0))
    ra_options = (struct.pack("!BB6s", 1, 1, bytes.fromhex("020000000001"))  # source LLA
                  + struct.pack("!BBHI", 5, 1, 0, 1500)  # MTU
                  + pref64_option("64:ff9b::/96", 600)
                  + pref64_option("2001:db8:1:2::/64", 65528))
    write("ra_option_fuzz", "ra_options", ra_options)

    pref64s = pref64_option("64:ff9b::/96", 600) + pref64_option("2001:db8:1:2::/64", 1200)
    adds = (link(RTM_NEWLINK, 2, "eth0", IFF_UP | IFF_LOWER_UP, 1500, "veth")
            + address(RTM_NEWADDR, 2, 2, "192.0.2.10", 24)
            + address(RTM_NEWADDR, 10, 2, "2001:db8::10", 64, 0x80)  # IFA_F_PERMANENT
            + route(RTM_NEWROUTE, 2, "0.0.0.0/0", oif=2, gateway="192.0.2.1", metric=100,
                    mtu=1400)
            + route(RTM_NEWROUTE, 10, "2001:db8:64::/96", oif=2, gateway="fe80::1", metric=1024)
            + route(RTM_NEWROUTE, 10, "::/0", multipath=(2, "fe80::1"), metric=1024)
            + proxy_neighbour(RTM_NEWNEIGH, 2, "2001:db8::c1a7")
            + nduseropt(2, pref64s))
    write("netlink_fuzz", "link_up", link(RTM_NEWLINK, 3, "clat", IFF_UP, 1260, "tun"))
    write("netlink_fuzz", "adds", adds)
    write("netlink_fuzz", "adds_then_deletes",
          adds
          + route(RTM_NEWROUTE, 2, "0.0.0.0/0", oif=2, gateway="192.0.2.2", metric=100,
                  flags=NLM_F_REPLACE)
          + address(RTM_DELADDR, 10, 2, "2001:db8::10", 64)
          + route(RTM_DELROUTE, 10, "2001:db8:64::/96", oif=2, gateway="fe80::1", metric=1024)
          + nduseropt(2, pref64_option("64:ff9b::/96", 0))
          + proxy_neighbour(RTM_DELNEIGH, 2, "2001:db8::c1a7")
          + link(RTM_NEWLINK, 2, "eth0", 0, 1500, "veth")
          + link(RTM_DELLINK, 2, "eth0", 0, 1500, "veth"))


if __name__ == "__main__":
    main()
