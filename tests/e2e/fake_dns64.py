#!/usr/bin/python3
"""A DNS server that misbehaves on demand, for the DNS64 fault tests (RFC 7050 discovery).

It answers every query (UDP and TCP: c-ares repeats a truncated answer over TCP) according to
the first line of a mode file, re-read before each answer and every 0.1 s, so a test switches
the behaviour by rewriting that file:

  down                  read queries, never answer (the client times out)
  closed                close the sockets: UDP queries get ICMP port unreachable, TCP a reset
  servfail | refused | nxdomain | formerr    that RCODE, question echoed, no answer
  nodata                NOERROR without any record
  nowka                 NOERROR with AAAA records holding neither 192.0.0.170 nor .171
  good PREFIX [TTL]     a correct RFC 7050 synthesis of 192.0.0.170/171 under PREFIX (TTL 5)
  garbage               per query a burst: random, short, wrongid and wrongq (which a client
                        must ignore), then one of trunc, count, loop and tc in turn
  garbage-VARIANT       one of these: random (random bytes), short (5 bytes), wrongid (a good
                        answer with another ID), wrongq (right ID, another question), trunc
                        (cut inside the AAAA RDATA), rdlen (an AAAA record with 4 bytes of
                        RDATA), count (ANCOUNT 5, one record), loop (an owner name that is a
                        compression pointer to itself), tc (TC set; over TCP a length prefix
                        longer than what follows)

Every query is logged, one line each: "<unix time> <udp|tcp> <mode> <query id>".

Usage: fake_dns64.py --listen 2001:db8:1::53 [--port 53] --mode-file F --log F
"""

import argparse
import ipaddress
import os
import random
import select
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rfc6052 import synthesise  # noqa: E402  (the bed's own RFC 6052 helper)

TYPE_AAAA = 28
CLASS_IN = 1
RCODES = {"servfail": 2, "nxdomain": 3, "refused": 5, "formerr": 1}
IGNORABLE = ["random", "short", "wrongid", "wrongq"]
FINAL = ["trunc", "count", "loop", "tc"]
GARBAGE = IGNORABLE + FINAL + ["rdlen"]


def question_end(query):
    """Offset just past the question (name, type, class), or None if it does not parse."""
    pos = 12
    while pos < len(query):
        length = query[pos]
        if length == 0:
            return pos + 5 if pos + 5 <= len(query) else None
        if length & 0xC0:
            return None
        pos += 1 + length
    return None


def header(query, rcode, ancount, tc=False):
    qid = struct.unpack("!H", query[:2])[0]
    rd = query[2] & 0x01
    flags = 0x8000 | (0x0200 if tc else 0) | (rd << 8) | 0x0080 | rcode
    return struct.pack("!HHHHHH", qid, flags, 1, ancount, 0, 0)


def aaaa_record(address, ttl, name=b"\xc0\x0c", rdata=None):
    """One answer record; the owner name defaults to a pointer to the question's name."""
    rdata = ipaddress.IPv6Address(address).packed if rdata is None else rdata
    return name + struct.pack("!HHIH", TYPE_AAAA, CLASS_IN, ttl, len(rdata)) + rdata


def reply(query, rcode, records, tc=False):
    end = question_end(query)
    return header(query, rcode, len(records), tc) + query[12:end] + b"".join(records)


def good_records(prefix, ttl):
    return [aaaa_record(synthesise(prefix, v4), ttl) for v4 in ("192.0.0.170", "192.0.0.171")]


def garbage(variant, query, tcp):
    good = reply(query, 0, good_records("2001:db8:bad::/96", 5))
    if variant == "random":
        return os.urandom(random.randint(0, 120))
    if variant == "short":
        return good[:5]
    if variant == "wrongid":
        return bytes([good[0] ^ 0xFF, good[1] ^ 0xFF]) + good[2:]
    if variant == "wrongq":
        end = question_end(query)
        wrong = b"\x08ipv6only\x04arpa\x00" + query[end - 4 : end]
        return header(query, 0, 1) + wrong + aaaa_record("2001:db8:bad::c000:aa", 5)
    if variant == "trunc":
        return good[:-20]
    if variant == "rdlen":
        return reply(query, 0, [aaaa_record("::", 5, rdata=b"\xc0\x00\x00\xaa")])
    if variant == "count":
        one = reply(query, 0, good_records("2001:db8:bad::/96", 5)[:1])
        return one[:6] + struct.pack("!H", 5) + one[8:]
    if variant == "loop":
        # The record's owner name sits at offset len(good part) and points at itself.
        base = len(header(query, 0, 1)) + question_end(query) - 12
        pointer = struct.pack("!H", 0xC000 | base)
        return reply(query, 0, [aaaa_record("2001:db8:bad::c000:aa", 5, name=pointer)])
    if variant == "tc":
        if tcp:
            return None  # handled by the TCP writer: a lying length prefix
        return reply(query, 0, [], tc=True)
    raise ValueError(variant)


class Server:
    def __init__(self, args):
        self.args = args
        self.udp = None
        self.tcp = None
        self.conns = {}
        self.turn = 0
        self.log = open(args.log, "a", encoding="ascii", buffering=1)

    def mode(self):
        try:
            with open(self.args.mode_file, encoding="ascii") as f:
                words = (f.readline().split() or ["down"])
        except OSError:
            words = ["down"]
        return words

    def open_sockets(self):
        family = socket.AF_INET6 if ":" in self.args.listen else socket.AF_INET
        self.udp = socket.socket(family, socket.SOCK_DGRAM)
        self.tcp = socket.socket(family, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        for s in (self.udp, self.tcp):
            s.setsockopt(socket.SOL_IP, 15, 1)  # IP_FREEBIND: the address may still be tentative
            s.bind((self.args.listen, self.args.port))
        self.tcp.listen(8)

    def close_sockets(self):
        for s in [self.udp, self.tcp, *self.conns]:
            if s is not None:
                s.close()
        self.udp = self.tcp = None
        self.conns = {}

    def answer(self, query, words, tcp):
        """The messages to send back (none: silence); b"TC" stands for the lying TCP prefix."""
        mode = words[0]
        if len(query) < 12 or question_end(query) is None or mode == "down":
            return []
        if mode in RCODES:
            return [reply(query, RCODES[mode], [])]
        if mode == "nodata":
            return [reply(query, 0, [])]
        if mode == "nowka":
            # 2001:db8::1, and 198.51.100.10 synthesised under a /96: no well-known address.
            nat64 = synthesise("2001:db8:64::/96", "198.51.100.10")
            return [reply(query, 0, [aaaa_record("2001:db8::1", 5), aaaa_record(nat64, 5)])]
        if mode == "good":
            ttl = int(words[2]) if len(words) > 2 else 5
            return [reply(query, 0, good_records(words[1], ttl))]
        if mode == "garbage":
            variants = [] if tcp else list(IGNORABLE)
            variants.append(FINAL[self.turn % len(FINAL)])
            self.turn += 1
        elif mode.startswith("garbage-") and mode[8:] in GARBAGE:
            variants = [mode[8:]]
        else:
            return []
        out = [garbage(v, query, tcp) for v in variants]
        return [b"TC" if o is None else o for o in out]

    def note(self, proto, words, query):
        qid = struct.unpack("!H", query[:2])[0] if len(query) >= 2 else -1
        self.log.write(f"{time.time():.3f} {proto} {words[0]} {qid}\n")

    def on_udp(self):
        query, peer = self.udp.recvfrom(4096)
        words = self.mode()
        self.note("udp", words, query)
        for out in self.answer(query, words, False):
            self.udp.sendto(out, peer)

    def on_tcp(self, conn):
        data = self.conns[conn] + conn.recv(4096)
        if not data:
            conn.close()
            del self.conns[conn]
            return
        self.conns[conn] = data
        while len(data) >= 2 and len(data) >= 2 + struct.unpack("!H", data[:2])[0]:
            size = struct.unpack("!H", data[:2])[0]
            query, data = data[2 : 2 + size], data[2 + size :]
            self.conns[conn] = data
            words = self.mode()
            self.note("tcp", words, query)
            for out in self.answer(query, words, True):
                if out == b"TC":
                    conn.sendall(struct.pack("!H", 512) + query[:20])
                else:
                    conn.sendall(struct.pack("!H", len(out)) + out)

    def run(self):
        while True:
            closed = self.mode()[0] == "closed"
            if closed and self.udp is not None:
                self.close_sockets()
            elif not closed and self.udp is None:
                self.open_sockets()
            watched = [] if self.udp is None else [self.udp, self.tcp, *self.conns]
            ready, _, _ = select.select(watched, [], [], 0.1)
            for s in ready:
                if s is self.udp:
                    self.on_udp()
                elif s is self.tcp:
                    conn, _ = self.tcp.accept()
                    self.conns[conn] = b""
                else:
                    try:
                        self.on_tcp(s)
                    except OSError:
                        s.close()
                        self.conns.pop(s, None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True)
    parser.add_argument("--port", type=int, default=53)
    parser.add_argument("--mode-file", required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"fake_dns64: [{args.listen}]:{args.port} modes from {args.mode_file}", flush=True)
    Server(args).run()


if __name__ == "__main__":
    sys.exit(main())
