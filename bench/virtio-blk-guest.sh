#!/usr/bin/env bash
# In-guest dd to and from a virtio-blk disk: the default guest (Debian cloud kernel + busybox) under
# `kvmsharp run --accel emulate` and under `qemu-system-x86_64 -M pc -accel tcg -drive if=virtio`, with the
# same kernel, initramfs, command and a raw disk on /dev/shm each, alternating, in one run. busybox dd
# uses O_DIRECT, so the guest's page cache is out of the way. busybox dd prints no rate, so the guest
# times each dd with /proc/uptime (10 ms resolution; guest time follows host time on both sides).
# Prints the median MB/s of each side per test and the ratio.
# Usage: bench/virtio-blk-guest.sh [--runs N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs=3
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    -h|--help) sed -n 2,7p "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
die() { echo "BENCHMARK ABORTED: $*" >&2; exit 1; }
command -v qemu-system-x86_64 >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y qemu-system-x86 >/dev/null; } \
  || die "cannot install qemu-system-x86"

paths="$("$root/kvmsharp" image pull)" || die "kvmsharp image pull failed"
kernel="$(echo "$paths" | awk '/kernel/ {print $NF}')"
initrd="$(echo "$paths" | awk '/initrd/ {print $NF}')"
bin="$root/.build/cli/kvmsharp"
tmp="$(mktemp -d)"; shm="$(mktemp -d /dev/shm/kvmsharp-bench-XXXXXX)"
trap 'rm -rf "$tmp" "$shm"' EXIT

tests=("write 128 MiB, bs=1M" "read 128 MiB, bs=1M" "write 32 MiB, bs=4K" "read 32 MiB, bs=4K")
# Each line: dd, then "R name bytes start end" with the guest's uptime before and after.
step() { echo "a=\$(cut -d' ' -f1 /proc/uptime); $1 2>/dev/null; echo R $2 $3 \$a \$(cut -d' ' -f1 /proc/uptime)"; }
script="$(step 'dd if=/dev/zero of=/dev/vda bs=1M count=128 oflag=direct' w1M $((128 << 20)))
$(step 'dd if=/dev/vda of=/dev/null bs=1M count=128 iflag=direct' r1M $((128 << 20)))
$(step 'dd if=/dev/zero of=/dev/vda bs=4k count=8192 oflag=direct' w4K $((8192 * 4096)))
$(step 'dd if=/dev/vda of=/dev/null bs=4k count=8192 iflag=direct' r4K $((8192 * 4096)))"
cmdline="console=ttyS0 panic=-1 quiet loglevel=1 kvmsharp.exec=$(printf '%s' "$script" | base64 -w0)"

record() {  # record NAME OUTPUT-FILE: appends each step's MB/s (MiB of 2^20 bytes) to NAME.<step index>
  # QEMU's console output carries terminal escapes before the first line: match the record, not the line start.
  local pattern='R [rw](1M|4K) [0-9]+ [0-9.]+ [0-9.]+'
  [ "$(grep -cE "$pattern" "$2")" -eq 4 ] || die "$1 printed no dd results: $(tail -5 "$2")"
  grep -oE "$pattern" "$2" | awk -v out="$tmp/$1" '{ printf "%.1f\n", $3 / 1048576 / ($5 - $4) >> (out "." NR-1) }'
}
median() { sort -g "$1" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; guest: $(basename "$kernel"), 256 MiB, 1 vCPU; disk: 256 MiB raw on /dev/shm"
for n in $(seq "$runs"); do
  truncate -s 256M "$shm/k.img" "$shm/q.img"
  "$bin" run --accel emulate --disk "$shm/k.img" --exec "$script" >"$tmp/k.out" 2>&1 || die "kvmsharp failed: $(tail -5 "$tmp/k.out")"
  record kvmsharp "$tmp/k.out"
  qemu-system-x86_64 -M pc -accel tcg -m 256 -nographic -no-reboot -kernel "$kernel" -initrd "$initrd" -append "$cmdline" \
    -drive "file=$shm/q.img,if=virtio,format=raw" -serial stdio -serial null -monitor none </dev/null >"$tmp/q.out" 2>&1 \
    || die "qemu failed: $(tail -5 "$tmp/q.out")"
  record qemu "$tmp/q.out"
done
printf '\n| dd on /dev/vda, O_DIRECT (median of %d) | KvmSharp emulate | QEMU TCG | ratio |\n|---|---|---|---|\n' "$runs"
for i in 0 1 2 3; do
  k=$(median "$tmp/kvmsharp.$i"); q=$(median "$tmp/qemu.$i")
  printf '| %s | %s MiB/s | %s MiB/s | %.2f |\n' "${tests[$i]}" "$k" "$q" "$(echo "$k / $q" | bc -l)"
done
