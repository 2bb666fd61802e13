#!/usr/bin/python3
"""Measures one libvirt-speaking manager (kvmsharpd, or libvirtd with QEMU) through its real clients.

Usage: measure.py URI DAEMON_PID XML_TEMPLATE WORKDIR DEFINED RUNNING
XML_TEMPLATE holds @NAME@, @MEMORY_MIB@ and @DISK@. Prints one JSON object:
list_ms (median of 10 `virsh list --all` with DEFINED domains), start_console_ms (median over 3 domains: create
to the first console byte through a libvirt stream), rss_idle_kib (daemon, DEFINED domains, none running),
rss_running_kib (daemon, RUNNING domains running), vmm_rss_kib (the running domains' processes, summed).
"""
import json
import os
import statistics
import subprocess
import sys
import threading
import time

import libvirt

uri, daemon_pid, template_path, work, defined, running = sys.argv[1:7]
daemon_pid, defined, running = int(daemon_pid), int(defined), int(running)
template = open(template_path).read()

libvirt.virEventRegisterDefaultImpl()
threading.Thread(target=lambda: [libvirt.virEventRunDefaultImpl() for _ in iter(int, 1)], daemon=True).start()
conn = libvirt.open(uri)


def progress(text):
    print(f"measure: {text}", file=sys.stderr, flush=True)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def xml(name, memory):
    disk = os.path.join(work, f"{name}.raw")
    with open(disk, "wb") as f:
        f.truncate(4 << 20)
    return template.replace("@NAME@", name).replace("@MEMORY_MIB@", str(memory)).replace("@DISK@", disk)


progress(f"defining {defined} domains")
names = [f"bench{i:02d}" for i in range(defined)]
domains = [conn.defineXML(xml(n, 128)) for n in names]

list_times = []
for _ in range(10):
    t0 = time.perf_counter()
    subprocess.run(["virsh", "-c", uri, "list", "--all"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    list_times.append((time.perf_counter() - t0) * 1000)
rss_idle = rss_kib(daemon_pid)


def first_console_byte(dom):
    progress(f"{dom.name()}: create, then wait for its first console byte")
    t0 = time.perf_counter()
    dom.create()
    stream = conn.newStream(0)
    dom.openConsole(None, stream, 0)
    data = stream.recv(1)
    elapsed = (time.perf_counter() - t0) * 1000
    if not data:
        raise SystemExit(f"{dom.name()}: the console ended before its first byte")
    try:
        stream.abort()
    except libvirt.libvirtError:
        pass
    return elapsed


start_times = [first_console_byte(d) for d in domains[:3]]
for d in domains[3:running]:
    d.create()
time.sleep(5)
rss_running = rss_kib(daemon_pid)
vmm_rss = 0
for d in domains[:running]:
    pid = None
    try:
        # kvmsharpd: the VMM's pid in its record; libvirtd: the QEMU pidfile.
        for path in (os.path.join(work, "state", "domains", d.name(), "vmm.json"), f"/run/libvirt/qemu/{d.name()}.pid"):
            if os.path.exists(path):
                text = open(path).read()
                pid = json.loads(text)["pid"] if path.endswith(".json") else int(text)
                break
        if pid:
            vmm_rss += rss_kib(pid)
    except (OSError, ValueError, KeyError):
        pass

for d in domains:
    try:
        if d.isActive():
            d.destroy()
        d.undefine()
    except libvirt.libvirtError as e:
        print(f"cleanup of {d.name()}: {e}", file=sys.stderr)

print(json.dumps({
    "list_ms": round(statistics.median(list_times), 1),
    "start_console_ms": round(statistics.median(start_times), 1),
    "rss_idle_kib": rss_idle,
    "rss_running_kib": rss_running,
    "vmm_rss_kib": vmm_rss,
}))
