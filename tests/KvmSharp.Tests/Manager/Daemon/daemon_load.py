#!/usr/bin/python3
"""Load on kvmsharpd through python-libvirt (Debian's python3-libvirt).

Usage:
  daemon_load.py cycles URI PID XML_TEMPLATE VMS ROUNDS
      defines VMS domains (XML_TEMPLATE with NAME replaced), starts all (paused: idle machines) and destroys all, ROUNDS
      times, then undefines them; after each round prints "round R fds=F threads=T rss_kib=K" of the daemon (PID).
  daemon_load.py clients URI SOCKET PID CLIENTS
      CLIENTS threads at once, each its own connection: a few calls checked against the truth (the domain list, a
      domain's XML, the hostname); every fourth thread instead writes hostile bytes on a raw socket. Prints the
      daemon's fds before and after, and "CLIENTS OK good=G hostile=H" when every good client got correct answers.
Exits 1 with the reason at the first thing that is not as it should be.
"""
import faulthandler
import os
import random
import socket
import struct
import sys
import threading
import time

import libvirt

faulthandler.dump_traceback_later(1500, exit=True)
libvirt.registerErrorHandler(lambda ctx, err: None, None)  # errors are raised; keep stderr for ours


def fail(why):
    print(f"FAILED: {why}", flush=True)
    sys.exit(1)


def figures(pid):
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    threads = rss = 0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("Threads:"):
                threads = int(line.split()[1])
            elif line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return fds, threads, rss


def cycles(uri, pid, template, vms, rounds):
    conn = libvirt.open(uri)
    xml = open(template).read()
    names = [f"load{i}" for i in range(vms)]
    domains = [conn.defineXML(xml.replace("NAME", n)) for n in names]
    fds, threads, rss = figures(pid)
    print(f"round 0 fds={fds} threads={threads} rss_kib={rss}", flush=True)
    for r in range(1, rounds + 1):
        for d in domains:
            d.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
        running = conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)
        if len(running) != vms:
            fail(f"round {r}: {len(running)} domains active, not {vms}")
        for d in domains:
            if d.state()[0] != libvirt.VIR_DOMAIN_PAUSED:
                fail(f"round {r}: {d.name()} is in state {d.state()}, not paused")
            d.destroy()
        if conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
            fail(f"round {r}: domains still active after destroy")
        fds, threads, rss = figures(pid)
        print(f"round {r} fds={fds} threads={threads} rss_kib={rss}", flush=True)
    for d in domains:
        d.undefine()
    conn.close()
    print("CYCLES OK", flush=True)


HOSTILE = [
    lambda: os.urandom(random.randint(1, 4096)),                                  # noise
    lambda: struct.pack(">I", 0xFFFFFFF0) + os.urandom(64),                       # a length far past the limit
    lambda: struct.pack(">I", 3),                                                 # a length shorter than its own field
    lambda: struct.pack(">IIIIIII", 28, 0x20008086, 1, 66, 0, 1, 0),              # a real header, a call to procedure 66 with no body
    lambda: struct.pack(">IIIIIII", 34, 0x20008086, 1, 1, 0, 1, 0) + b"\x00\x00\x00\x05ab",  # CONNECT_OPEN, a string that runs out
    lambda: b"",                                                                  # connect and hang up
]


def hostile(sock_path, i, errors):
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(sock_path)
        s.sendall(HOSTILE[i % len(HOSTILE)]())
        try:
            s.recv(65536)  # an error reply or the close; either is fine
        except (socket.timeout, ConnectionResetError):
            pass
        s.close()
    except OSError as e:
        errors.append(f"hostile {i}: {e}")


def good(uri, i, truth, errors):
    try:
        conn = libvirt.open(uri)
        for _ in range(3):
            names = sorted(d.name() for d in conn.listAllDomains())
            if names != truth["names"]:
                errors.append(f"client {i}: domains {names}, expected {truth['names']}")
            dom = conn.lookupByName(truth["names"][i % len(truth["names"])])
            if f"<name>{dom.name()}</name>" not in dom.XMLDesc(0):
                errors.append(f"client {i}: XML of {dom.name()} does not name it")
            if conn.getHostname() != truth["host"]:
                errors.append(f"client {i}: hostname {conn.getHostname()}")
        conn.close()
    except libvirt.libvirtError as e:
        errors.append(f"client {i}: {e}")


def clients(uri, sock_path, pid, count):
    conn = libvirt.open(uri)
    truth = {"names": sorted(d.name() for d in conn.listAllDomains()), "host": conn.getHostname()}
    conn.close()
    if not truth["names"]:
        fail("define a domain first")
    time.sleep(0.5)
    before = figures(pid)
    print(f"before fds={before[0]} threads={before[1]} rss_kib={before[2]}", flush=True)
    errors = []
    start = threading.Barrier(count)

    def run(i):
        start.wait()
        if i % 4 == 3:
            hostile(sock_path, i, errors)
        else:
            good(uri, i, truth, errors)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    peak = before
    while any(t.is_alive() for t in threads):
        f = figures(pid)
        peak = tuple(max(a, b) for a, b in zip(peak, f))
        time.sleep(0.05)
    print(f"peak fds={peak[0]} threads={peak[1]} rss_kib={peak[2]}", flush=True)
    if errors:
        fail("; ".join(errors[:5]) + f" ({len(errors)} in all)")
    # The daemon notices each close on its reader thread: give it a moment, then fds must be back.
    deadline = time.time() + 20
    while True:
        after = figures(pid)
        if after[0] <= before[0] or time.time() > deadline:
            break
        time.sleep(0.2)
    print(f"after fds={after[0]} threads={after[1]} rss_kib={after[2]}", flush=True)
    conn = libvirt.open(uri)
    if sorted(d.name() for d in conn.listAllDomains()) != truth["names"]:
        fail("the domain list changed")
    conn.close()
    good_count = sum(1 for i in range(count) if i % 4 != 3)
    print(f"CLIENTS OK good={good_count} hostile={count - good_count}", flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "cycles":
        cycles(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
    elif mode == "clients":
        clients(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        fail(f"unknown mode {mode}")
