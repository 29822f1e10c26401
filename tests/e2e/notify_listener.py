#!/usr/bin/python3
"""A stand-in for systemd's notification socket (sd_notify(3)), for the e2e tests.

Binds a unix datagram socket at --socket (what NOTIFY_SOCKET names) and writes every datagram
it receives to --out as one line: the CLOCK_MONOTONIC time of receipt in microseconds, then
each of the datagram's newline-separated assignments, all separated by tabs (a tab inside an
assignment becomes a space), e.g.

  1057020967<TAB>RELOADING=1<TAB>MONOTONIC_USEC=1057020950

The socket file is removed on SIGTERM.

Usage: notify_listener.py --socket PATH --out FILE
"""

import argparse
import os
import signal
import socket
import sys
import time


def line(datagram):
    text = datagram.decode("utf-8", errors="replace")
    fields = [a.replace("\t", " ") for a in text.split("\n") if a != ""]
    return "\t".join([str(time.monotonic_ns() // 1000), *fields]) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if os.path.exists(args.socket):
        os.unlink(args.socket)
    # The file is bound under a temporary name and renamed, so that a test waiting for the
    # path never sends to a socket that is not bound yet.
    tmp = args.socket + ".tmp"
    if os.path.exists(tmp):
        os.unlink(tmp)
    sock.bind(tmp)
    os.rename(tmp, args.socket)

    def stop(*_):
        os.unlink(args.socket)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    with open(args.out, "a", encoding="utf-8", buffering=1) as out:
        while True:
            out.write(line(sock.recv(65536)))


if __name__ == "__main__":
    sys.exit(main())
