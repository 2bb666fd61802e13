#!/usr/bin/env bash
# virtio-blk device benchmark: drives VirtioBlockDevice from the host side (a synthetic driver keeps the
# 256-entry queue full) against raw and qcow2 images on tmpfs; prints requests/s and GiB/s for 1 MiB
# sequential and 4 KiB random reads and writes.
# Usage: bench/virtio-blk.sh [--dir /dev/shm] [--size-mib 1024] [--seconds 3]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "${1:-}" in -h|--help) sed -n 2,5p "$0"; exit 0 ;; esac
out="$root/.build/bench/virtio-blk"
dotnet build "$root/bench/virtio-blk/VirtioBlkBench.csproj" -c Release -o "$out" -v quiet -nologo >/dev/null \
  || { echo "BENCHMARK ABORTED: build failed (run: dotnet build bench/virtio-blk -c Release)" >&2; exit 1; }
grep -m1 "model name" /proc/cpuinfo | sed 's/.*: /host cpu: /'
exec dotnet "$out/VirtioBlkBench.dll" "$@"
