#!/usr/bin/env python3
"""Prints N distinct free loopback ports, for the bench scripts.

The ports are picked below the kernel's ephemeral range when there is room
(as integration/cluster does): a port the kernel hands out for
127.0.0.1:0 is an ephemeral one, and between this script and the agent's
bind any outgoing connection on the machine (an agent's own Raft or gossip
dials) may take it as its source port, so the agent fails with "address
already in use". Each port is free for TCP and UDP (gossip uses both).
"""
import random
import socket
import sys

LOWEST, MIN_ROOM = 10000, 2000


def free(port):
    socks = []
    try:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind)
            socks.append(s)
            s.bind(("127.0.0.1", port))
        return socks[0].getsockname()[1]
    except OSError:
        return 0
    finally:
        for s in socks:
            s.close()


def main(n):
    try:
        lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except (OSError, ValueError, IndexError):
        lo = 0
    out = []
    for _ in range(10000):
        if len(out) == n:
            break
        p = free(random.randrange(LOWEST, lo)) if lo - LOWEST >= MIN_ROOM else free(0)
        if p and p not in out:
            out.append(p)
    if len(out) < n:
        sys.exit("free_ports.py: no free loopback ports found")
    print(" ".join(map(str, out)))


if __name__ == "__main__":
    main(int(sys.argv[1]))
