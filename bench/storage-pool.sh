#!/usr/bin/env bash
# Storage pools through kvmsharpd, driven by stock virsh: vol-upload and vol-download of SIZE MiB (a libvirt stream
# of the volume's bytes), with cp of the same file on the same file system as the floor; vol-create-as of a qcow2
# volume and vol-resize of it past the 4 TiB its first L1 cluster maps (our qcow2 growth). Median of 3 each.
#
#   bench/storage-pool.sh [--size-mib 256] [--dir /var/tmp]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
size=256
base=/var/tmp
while [ $# -gt 0 ]; do
  case "$1" in
    --size-mib) size="$2"; shift 2 ;;
    --dir) base="$2"; shift 2 ;;
    *) echo "usage: $0 [--size-mib N] [--dir DIR]" >&2; exit 2 ;;
  esac
done
command -v virsh >/dev/null || { echo "bench: needs virsh (apt-get install libvirt-clients)" >&2; exit 1; }
"$root/kvmsharp" --help >/dev/null               # builds kvmsharp and kvmsharpd, outside the timings
work="$(mktemp -d -p "$base" kvmsharp-pool-bench.XXXXXX)"
daemon=""
cleanup() { [ -n "$daemon" ] && kill "$daemon" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
"$root/.build/cli/kvmsharpd" --state-dir "$work/state" --socket "$work/sock" >"$work/daemon.log" 2>&1 &
daemon=$!
for _ in $(seq 100); do [ -S "$work/sock-ro" ] && break; sleep 0.1; done
v() { virsh -q -c "kvmsharp+unix:///system?socket=$work/sock" "$@" >/dev/null; }
v pool-define-as bench dir --target "$work/pool"; v pool-build bench; v pool-start bench
head -c $((size << 20)) /dev/urandom >"$work/data.bin"
v vol-create-as bench up.raw "${size}M"
now() { date +%s.%N; }
median() { sort -n | sed -n 2p; }
time3() { for _ in 1 2 3; do local t0; t0=$(now); "$@"; echo "$(now) - $t0" | bc -l; done | median; }
upload=$(time3 v vol-upload --pool bench up.raw "$work/data.bin")
download=$(time3 v vol-download --pool bench up.raw "$work/down.bin")
cmp -s "$work/data.bin" "$work/down.bin" || { echo "bench: the download differs from the upload" >&2; exit 1; }
copy=$(time3 cp "$work/data.bin" "$work/copy.bin")
n=0
create() { n=$((n + 1)); v vol-create-as bench "q$n.qcow2" 10G --format qcow2; }
qcreate=$(time3 create)
n=0
resize() { n=$((n + 1)); v vol-resize --pool bench "q$n.qcow2" 5T; }   # each volume's first growth past 4 TiB
qresize=$(time3 resize)
for q in 1 2 3; do qemu-img check -q "$work/pool/q$q.qcow2"; done
printf '%-40s %12s\n' "operation ($size MiB where a size applies)" "median"
printf '%-40s %9.0f MiB/s\n' "vol-upload (kvmsharpd)" "$(echo "$size / $upload" | bc -l)"
printf '%-40s %9.0f MiB/s\n' "vol-download (kvmsharpd)" "$(echo "$size / $download" | bc -l)"
printf '%-40s %9.0f MiB/s\n' "cp, same file system (floor)" "$(echo "$size / $copy" | bc -l)"
printf '%-40s %9.1f ms\n' "vol-create-as 10G qcow2" "$(echo "$qcreate * 1000" | bc -l)"
printf '%-40s %9.1f ms\n' "vol-resize qcow2 past 4 TiB (new L1)" "$(echo "$qresize * 1000" | bc -l)"
