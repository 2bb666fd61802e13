"""Drives both VMMs for bench/live-migration.sh: boot a source, wait for the guest's "ready", migrate it to a
waiting destination, check the destination runs, and report total time, downtime, bytes and rounds."""
import base64, json, os, re, shutil, socket, subprocess, sys, tempfile, time

kvmsharp, kernel, initrd, memory, settle = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
GUESTS = {
    "idle": "echo ready; sleep 100000",
    # Keeps rewriting 16 MiB of page cache with fresh data: a steady dirty rate while pre-copy runs.
    "dirtying": "echo ready; while :; do dd if=/dev/urandom of=/dirty bs=1M count=16 2>/dev/null; done",
}

def cmdline(command):
    # As DefaultGuestCommandLine.Exec builds it: the command base64 in kvmsharp.exec, read by our /init.
    return "console=ttyS0 panic=-1 quiet loglevel=1 kvmsharp.exec=" + base64.b64encode(command.encode()).decode()

def wait_for(predicate, what, timeout=600):
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise SystemExit(f"BENCHMARK ABORTED: {what} within {timeout} s")
        time.sleep(0.05)

def read(path):
    try:
        with open(path, "rb") as f: return f.read().decode(errors="replace")
    except FileNotFoundError: return ""

def http(sock_path, method, path, body=None, timeout=600):
    s = socket.socket(socket.AF_UNIX); s.settimeout(timeout); s.connect(sock_path)
    data = json.dumps(body).encode() if body is not None else b""
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
    reply = b""
    while chunk := s.recv(65536): reply += chunk
    s.close()
    head, _, rest = reply.partition(b"\r\n\r\n")
    return int(head.split()[1]), rest.decode(errors="replace")

def kvmsharp_run(tmp, command):
    src_out, dst_out, src_err = (os.path.join(tmp, n) for n in ("src.out", "dst.out", "src.err"))
    api_s, api_d, incoming = (os.path.join(tmp, n) for n in ("src.sock", "dst.sock", "in.sock"))
    dst = subprocess.Popen([kvmsharp, "run", "--api-sock", api_d, "--incoming", f"unix:{incoming}"],
                           stdout=open(dst_out, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    src = subprocess.Popen([kvmsharp, "run", "--api-sock", api_s, "--kernel", kernel, "--initrd", initrd, "--cmdline", cmdline(command),
                            "--accel", "emulate", "--memory", str(memory)],
                           stdout=open(src_out, "wb"), stderr=open(src_err, "wb"), stdin=subprocess.DEVNULL)
    try:
        wait_for(lambda: "ready" in read(src_out), "the KvmSharp guest did not print ready")
        wait_for(lambda: os.path.exists(incoming) and os.path.exists(api_s), "the KvmSharp sockets did not appear")
        time.sleep(settle)
        start = time.time()
        status, body = http(api_s, "PUT", "/migrate", {"destination_url": f"unix:{incoming}", "downtime_ms": 300})
        wall = time.time() - start
        if status != 204: raise SystemExit(f"BENCHMARK ABORTED: PUT /migrate answered {status}: {body}")
        if src.wait(60) != 0: raise SystemExit(f"BENCHMARK ABORTED: the source exited {src.returncode}: {read(src_err)}")
        status, body = http(api_d, "GET", "/")
        if '"state":"Running"' not in body.replace(" ", ""): raise SystemExit(f"BENCHMARK ABORTED: the destination is not running: {body}")
        m = re.search(r"total ([\d.]+) ms, downtime ([\d.]+) ms, (\d+) bytes, (\d+) rounds", read(src_err))
        if not m: raise SystemExit(f"BENCHMARK ABORTED: no migration notice from the source: {read(src_err)}")
        return float(m[1]), float(m[2]), int(m[3]), int(m[4]), wall * 1000
    finally:
        for p in (src, dst):
            if p.poll() is None: p.kill()
            p.wait()

def qmp(path):
    s = socket.socket(socket.AF_UNIX); s.settimeout(60); s.connect(path)
    f = s.makefile("rw")
    json.loads(f.readline())
    def call(name, **args):
        f.write(json.dumps({"execute": name, "arguments": args} if args else {"execute": name}) + "\n"); f.flush()
        while True:
            reply = json.loads(f.readline())
            if "return" in reply: return reply["return"]
            if "error" in reply: raise SystemExit(f"BENCHMARK ABORTED: QMP {name}: {reply['error']}")
    call("qmp_capabilities")
    return call

def qemu_run(tmp, command):
    qemu = shutil.which("qemu-system-x86_64")
    if qemu is None: return None
    def vm(name, extra):
        serial = os.path.join(tmp, f"q{name}.out")
        return serial, subprocess.Popen([qemu, "-M", "pc", "-accel", "tcg", "-m", str(memory), "-smp", "1", "-nodefaults", "-no-user-config",
                                         "-display", "none", "-kernel", kernel, "-initrd", initrd, "-append", cmdline(command),
                                         "-serial", f"file:{serial}", "-serial", "null",
                                         "-qmp", f"unix:{os.path.join(tmp, f'q{name}.qmp')},server=on,wait=off"] + extra,
                                        stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, f"q{name}.err"), "wb"), stdin=subprocess.DEVNULL)
    incoming = os.path.join(tmp, "qin.sock")
    _, dst = vm("dst", ["-incoming", f"unix:{incoming}"])
    src_serial, src = vm("src", [])
    try:
        wait_for(lambda: "ready" in read(src_serial), "the QEMU guest did not print ready")
        wait_for(lambda: os.path.exists(os.path.join(tmp, "qsrc.qmp")) and os.path.exists(os.path.join(tmp, "qdst.qmp")), "QEMU's QMP sockets did not appear")
        time.sleep(settle)
        call, dcall = qmp(os.path.join(tmp, "qsrc.qmp")), qmp(os.path.join(tmp, "qdst.qmp"))
        call("migrate-set-parameters", **{"downtime-limit": 300, "max-bandwidth": 10 << 30})
        start = time.time()
        call("migrate", uri=f"unix:{incoming}")
        while (info := call("query-migrate")).get("status") not in ("completed", "failed", "cancelled"): time.sleep(0.01)
        wall = time.time() - start
        if info["status"] != "completed": raise SystemExit(f"BENCHMARK ABORTED: QEMU's migration {info['status']}: {info}")
        wait_for(lambda: dcall("query-status")["status"] == "running", "the QEMU destination did not run", 60)
        return float(info["total-time"]), float(info["downtime"]), int(info["ram"]["transferred"]), int(info["ram"]["dirty-sync-count"]), wall * 1000
    finally:
        for p in (src, dst):
            if p.poll() is None: p.kill()
            p.wait()

rows = []
for name, command in GUESTS.items():
    for vmm, run in (("KvmSharp", kvmsharp_run), ("QEMU TCG", qemu_run)):
        with tempfile.TemporaryDirectory(prefix="kvmsharp-migbench") as tmp:
            result = run(tmp, command)
        rows.append((name, vmm, result))
        print(f"  {name:9} {vmm:9} done", file=sys.stderr)

print(f"\n{'guest':10}{'VMM':10}{'total ms':>10}{'downtime ms':>13}{'MiB sent':>10}{'rounds':>8}{'client wall ms':>16}")
for name, vmm, r in rows:
    if r is None: print(f"{name:10}{vmm:10}{'(not installed)':>40}"); continue
    total, downtime, sent, rounds, wall = r
    print(f"{name:10}{vmm:10}{total:>10.0f}{downtime:>13.1f}{sent / (1 << 20):>10.1f}{rounds:>8}{wall:>16.0f}")
print("\nKvmSharp: total and downtime from the source's own notice (downtime: its last pause to the destination's 'running');"
      "\nQEMU: query-migrate's total-time and downtime; rounds: its dirty-sync-count. Client wall: PUT /migrate or migrate..completed as seen here.")
