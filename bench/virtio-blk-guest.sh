#!/usr/bin/env bash
# In-guest dd to and from a virtio-blk disk: the default guest (Debian cloud kernel + busybox) under
# `kvmsharp run --accel emulate` and under `qemu-system-x86_64 -M pc -accel tcg -drive if=virtio`, with the
# same kernel, initramfs, command and a raw disk on /dev/shm each, alternating, in one run. busybox dd
# uses O_DIRECT, so the guest's page cache is out of the way; the rate is what dd reports (guest time).
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

tests=("write 1M" "read 1M" "write 4K" "read 4K")
script='dd if=/dev/zero of=/dev/vda bs=1M count=64 oflag=direct 2>&1 | tail -1
dd if=/dev/vda of=/dev/null bs=1M count=64 iflag=direct 2>&1 | tail -1
dd if=/dev/zero of=/dev/vda bs=4k count=4096 oflag=direct 2>&1 | tail -1
dd if=/dev/vda of=/dev/null bs=4k count=4096 iflag=direct 2>&1 | tail -1'
cmdline="console=ttyS0 panic=-1 quiet loglevel=1 kvmsharp.exec=$(printf '%s' "$script" | base64 -w0)"

record() {  # record NAME OUTPUT-FILE: appends each dd line's MB/s to NAME.<test>
  local n=0
  grep 'copied' "$2" | tr -d '\r' | while read -r line; do
    echo "$line" | awk -F', ' '{print $NF}' | sed 's/MB\/s//' >>"$tmp/$1.$n"; n=$((n + 1))
  done
  [ "$(grep -c copied "$2")" -eq 4 ] || die "$1 printed no dd results: $(tail -5 "$2")"
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
  printf '| %s | %s MB/s | %s MB/s | %.2f |\n' "${tests[$i]}" "$k" "$q" "$(echo "$k / $q" | bc -l)"
done
