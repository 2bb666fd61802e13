#!/usr/bin/env python3
# The host's side of the network benchmarks (net-user.sh, net-bridge.sh): a sink that reads each connection to its end,
# and an HTTP source of SIZE zero bytes, both on ADDRESS; their ports go to PORTS_FILE (written whole, by a rename).
# usage: tcp-sink-source.py PORTS_FILE SIZE ADDRESS
import socket, sys, threading
ports_file, size, address = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def listener():
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((address, 0)); s.listen(8); return s
sink, source = listener(), listener()
def serve_sink():
    while True:
        c, _ = sink.accept()
        while c.recv(1 << 20): pass
        c.close()
def serve_source():
    chunk = bytes(1 << 20)
    while True:
        c, _ = source.accept()
        head = b""
        while b"\r\n\r\n" not in head:
            d = c.recv(4096)
            if not d: break
            head += d
        c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        left = size
        while left > 0:
            n = min(left, len(chunk)); c.sendall(chunk[:n]); left -= n
        c.close()
threading.Thread(target=serve_sink, daemon=True).start()
threading.Thread(target=serve_source, daemon=True).start()
with open(ports_file + ".tmp", "w") as f: f.write("%d %d\n" % (sink.getsockname()[1], source.getsockname()[1]))
import os; os.rename(ports_file + ".tmp", ports_file)
threading.Event().wait()
