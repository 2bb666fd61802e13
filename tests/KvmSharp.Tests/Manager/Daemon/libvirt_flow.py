#!/usr/bin/python3
"""The default guest's whole life through python-libvirt (Debian's python3-libvirt) against kvmsharpd.

Usage: libvirt_flow.py URI DOMAIN_XML DISK WORKDIR
Prints one line per step; exits 1 with the reason at the first thing that is not as it should be.
"""
import faulthandler
import re
import subprocess
import sys
import threading
import time

import libvirt

uri, xml_path, disk_path, work = sys.argv[1:5]
TIMEOUT = 600  # the first boot on the software CPU of a two-core CI machine
faulthandler.dump_traceback_later(840, exit=True)  # a call that never returns: say where, before the test's own limit


def fail(why):
    print(f"FAILED: {why}", flush=True)
    sys.exit(1)


def step(text):
    print(f"ok: {text}", flush=True)


def qemu_img(*args):
    """qemu-img (Debian's qemu-utils), the outside judge of the qcow2 disk; -U reads while our VMM has it open."""
    done = subprocess.run(["qemu-img", *args], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        fail(f"qemu-img {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def disk_head():
    """The first bytes of the disk as the guest sees them, read by qemu-img through the qcow2 mapping."""
    raw = f"{work}/disk-head.raw"
    qemu_img("dd", "-U", "-f", "qcow2", "-O", "raw", "bs=512", "count=1", f"if={disk_path}", f"of={raw}")
    with open(raw, "rb") as f:
        return f.read(16)


def wait_for(what, condition, timeout=TIMEOUT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.1)
    fail(f"timed out waiting for {what}")


libvirt.virEventRegisterDefaultImpl()
threading.Thread(target=lambda: [libvirt.virEventRunDefaultImpl() for _ in iter(int, 1)], daemon=True).start()
libvirt.registerErrorHandler(lambda ctx, err: None, None)  # errors are checked where they are expected

conn = libvirt.open(uri)
events = []
conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                            lambda c, d, event, detail, opaque: events.append((d.name(), event, detail)), None)


class Console:
    """The guest's serial console through a non-blocking libvirt stream driven by the event loop, as virsh console
    does it (virDomainOpenConsole; a thread blocked in virStreamRecv while the main thread makes calls on the same
    connection was seen to stall the client)."""

    def __init__(self, dom):
        self.text = ""
        self.ended = False
        self.stream = conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
        dom.openConsole(None, self.stream, 0)
        self.stream.eventAddCallback(libvirt.VIR_STREAM_EVENT_READABLE | libvirt.VIR_STREAM_EVENT_ERROR
                                     | libvirt.VIR_STREAM_EVENT_HANGUP, self._readable, None)

    def _readable(self, stream, events, opaque):
        try:
            while True:
                data = stream.recv(4096)
                if data == -2:  # nothing more for now
                    return
                if not data:
                    break
                self.text += data.decode("utf-8", "replace")
        except libvirt.libvirtError:
            pass
        self.ended = True
        try:
            stream.eventRemoveCallback()
        except libvirt.libvirtError:
            pass

    def send(self, line):
        data = (line + "\n").encode()
        while data and not self.ended:
            n = self.stream.send(data)
            if n == -2:
                time.sleep(0.01)
                continue
            data = data[n:]

    def run(self, command, expect, timeout=TIMEOUT):
        """Types command until expect (a regex) shows up in the output that follows it."""
        start = len(self.text)
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.send(command)
            until = time.time() + 3
            while time.time() < until:
                m = re.search(expect, self.text[start:])
                if m:
                    return m
                time.sleep(0.05)
        fail(f"no '{expect}' after typing '{command}'; console ended with: {self.text[-600:]!r}")


def ticks(console):
    return [int(n) for n in re.findall(r"tick(\d+)", console.text)]


def wait_state(dom, state):
    wait_for(f"state {state}", lambda: dom.state()[0] == state, 120)


dom = conn.defineXML(open(xml_path).read())
if dom.isActive() or not dom.isPersistent():
    fail("a defined domain should be inactive and persistent")
step(f"defined {dom.name()} {dom.UUIDString()}")

dom.create()
if dom.state()[0] != libvirt.VIR_DOMAIN_RUNNING or dom.ID() < 1:
    fail(f"after create: state {dom.state()} id {dom.ID()}")
console = Console(dom)
console.run("echo py-$((6*7))", r"py-42")
step("console stream: typed a command, read its answer")

console.send("(i=0; while true; do i=$((i+1)); echo tick$i; sleep 0.2; done) &")
wait_for("ticks", lambda: len(ticks(console)) >= 3, 120)
dom.suspend()
if dom.state()[0] != libvirt.VIR_DOMAIN_PAUSED:
    fail(f"after suspend: {dom.state()}")
time.sleep(0.5)
frozen = max(ticks(console))
time.sleep(1.5)
if max(ticks(console)) != frozen:
    fail("the guest went on printing while suspended")
dom.resume()
wait_for("ticks after resume", lambda: max(ticks(console)) >= frozen + 3, 120)
step(f"suspend stopped the guest at tick {frozen}; resume went on")

save = f"{work}/guest.save"
dom.save(save)
if dom.isActive() or dom.state() != [libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_SAVED]:
    fail(f"after save: {dom.state()}")
wait_for("the console stream to end", lambda: console.ended, 30)
saved_tick = max(ticks(console))
conn.restore(save)
dom = conn.lookupByName(dom.name())
if dom.state()[0] != libvirt.VIR_DOMAIN_RUNNING:
    fail(f"after restore: {dom.state()}")
console = Console(dom)
wait_for("ticks after restore", lambda: len(ticks(console)) >= 2, 120)
if min(ticks(console)) <= 1 or min(ticks(console)) > saved_tick + 20:
    fail(f"the restored guest did not go on from tick {saved_tick}: {ticks(console)[:5]}")
step(f"save and restore: ticks went on from {saved_tick} at {min(ticks(console))}")

console.run("kill %1; echo stopped-$((2*3))", r"stopped-6")
console.run("echo before > /before-snapshot; echo BEFORESNAP | dd of=/dev/vda conv=fsync 2>/dev/null; echo wrote-$((5*5))", r"wrote-25")
snap = dom.snapshotCreateXML("<domainsnapshot><name>snap1</name><description>py</description></domainsnapshot>", 0)
if snap.getName() != "snap1" or dom.snapshotCurrent().getName() != "snap1" or dom.snapshotNum() != 1:
    fail("the snapshot is not listed as current")
if "<state>running</state>" not in snap.getXMLDesc():
    fail("the snapshot XML does not say it was taken running")
console.run("echo after > /after-snapshot; echo AFTERSNAP_ | dd of=/dev/vda conv=fsync 2>/dev/null; echo wrote-$((6*6))", r"wrote-36")
if not disk_head().startswith(b"AFTERSNAP_"):
    fail("the guest's disk write did not reach the image")
if not re.search(r"^\d+\s+snap1\s", qemu_img("snapshot", "-l", "-U", disk_path), re.M):
    fail("qemu-img does not list the snapshot inside the qcow2 disk")
dom.revertToSnapshot(snap, 0)
if dom.state()[0] != libvirt.VIR_DOMAIN_RUNNING:
    fail(f"after revert: {dom.state()}")
if not disk_head().startswith(b"BEFORESNAP"):
    fail("the disk did not go back to its state at the snapshot")
console = Console(dom)
console.run("ls /before-snapshot /after-snapshot 2>&1; echo listed-$((7*7))", r"listed-49")
out = console.text
if not re.search(r"/after-snapshot: No such file", out) or not re.search(r"^/before-snapshot\r?$", out, re.M):
    fail(f"a file written after the snapshot survived the revert: {out[-400:]!r}")
step("snapshot and revert: memory and disk went back, the file written after it is gone")

dom.shutdown()
wait_for("power-off after shutdown", lambda: not dom.isActive(), 300)
if dom.state() != [libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_SHUTDOWN]:
    fail(f"after a graceful shutdown: {dom.state()}")
step("shutdown: the guest powered itself off")

dom.snapshotLookupByName("snap1").delete(0)
if "snap1" in qemu_img("snapshot", "-l", disk_path):
    fail("the deleted snapshot is still inside the qcow2 disk")
if "No errors were found" not in qemu_img("check", disk_path):
    fail("qemu-img check finds the disk inconsistent")
step("the snapshot is deleted from the disk too, and qemu-img check finds it clean")
dom.undefine()
try:
    conn.lookupByName(dom.name())
    fail("the undefined domain can still be looked up")
except libvirt.libvirtError as e:
    if e.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
        fail(f"lookup of an undefined domain: {e}")
step("undefined")

time.sleep(0.5)
E = libvirt
wanted = [(E.VIR_DOMAIN_EVENT_DEFINED, 0), (E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_BOOTED),
          (E.VIR_DOMAIN_EVENT_SUSPENDED, 0), (E.VIR_DOMAIN_EVENT_RESUMED, 0),
          (E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_SAVED),
          (E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_RESTORED),
          (E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_FROM_SNAPSHOT),
          (E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN),
          (E.VIR_DOMAIN_EVENT_UNDEFINED, 0)]
seen = [(e, d) for (_, e, d) in events]
position = 0
for w in wanted:
    if w not in seen[position:]:
        fail(f"lifecycle event {w} missing or out of order in {seen}")
    position = seen.index(w, position) + 1
step(f"lifecycle events in order: {seen}")
conn.close()
print("ALL OK", flush=True)
