#!/usr/bin/env bash
# virtio-fs (our in-process FUSE server) against virtio-blk (an ext4 image) for the same file in one guest boot:
# the default guest mounts a host folder (--fs) and an ext4 disk holding the same N MiB random file, then, with
# caches dropped before each step, reads the file (cat > /dev/null) and copies it within the same file system
# (cp, then sync). Times come from the guest's /proc/uptime; the host checks the copies' checksums.
# Usage: bench/virtiofs.sh [--mib N] [--accel emulate|kvm|auto]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mib=64 accel=emulate
while [ $# -gt 0 ]; do
  case "$1" in
    --mib) mib="$2"; shift 2 ;;
    --accel) accel="$2"; shift 2 ;;
    -h|--help) sed -n 2,6p "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
die() { echo "BENCHMARK ABORTED: $*" >&2; exit 1; }
command -v mkfs.ext4 >/dev/null 2>&1 || die "needs mkfs.ext4 (e2fsprogs)"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/share" "$tmp/disk"
head -c "$((mib << 20))" /dev/urandom >"$tmp/disk/big.bin"
cp "$tmp/disk/big.bin" "$tmp/share/big.bin"
sum="$(md5sum <"$tmp/share/big.bin" | cut -c1-32)"
# Room for the copy and ext4's metadata.
truncate -s "$((mib * 3 + 32))M" "$tmp/disk.img"
mkfs.ext4 -q -F -d "$tmp/disk" "$tmp/disk.img" >/dev/null || die "mkfs.ext4 failed"

# The guest's steps, kept in the share (the kernel command line is short). Each prints "NAME SECONDS".
cat >"$tmp/share/run.sh" <<'GUEST'
now() { cut -d' ' -f1 /proc/uptime; }
step() { name="$1"; shift; sync; echo 3 > /proc/sys/vm/drop_caches; a=$(now); "$@"; b=$(now); echo "$name $a $b"; }
mkdir -p /b && mount /dev/vda /b || exit 1
step fs-read sh -c 'cat /m/big.bin > /dev/null'
step blk-read sh -c 'cat /b/big.bin > /dev/null'
step fs-copy sh -c 'cp /m/big.bin /m/copy.bin && sync'
step blk-copy sh -c 'cp /b/big.bin /b/copy.bin && sync'
md5sum /b/copy.bin | cut -c1-32
umount /b
GUEST

echo "Copying $mib MiB in the default guest (--accel $accel)..." >&2
out="$("$root/kvmsharp" run --accel "$accel" --memory 512M --exec 'mkdir -p /m && mount -t virtiofs share /m && sh /m/run.sh' \
  --fs "tag=share,path=$tmp/share" --disk "$tmp/disk.img,format=raw" 2>&1)" || die "the guest failed: $out"
[ "$(md5sum <"$tmp/share/copy.bin" | cut -c1-32)" = "$sum" ] || die "the virtio-fs copy differs from the original"
echo "$out" | grep -qx "$sum" || die "the virtio-blk copy differs from the original: $out"
rate() { echo "$out" | awk -v n="$1" -v mib="$mib" '$1 == n { s = $3 - $2; printf "%8.2f | %8.1f", s, (s > 0 ? mib * 1.048576 / s : 0) }'; }

echo
echo "Host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) CPUs; guest: the default guest, --accel $accel, 512 MiB"
echo "File: $mib MiB of random bytes; caches dropped in the guest before each step; times from the guest's /proc/uptime (10 ms)"
printf "| %-34s | %8s | %8s |\n" step "time (s)" "MB/s"
printf "|%s|%s|%s|\n" "------------------------------------" "----------" "----------"
printf "| %-34s | %s |\n" "read, virtio-fs (in-process FUSE)" "$(rate fs-read)"
printf "| %-34s | %s |\n" "read, virtio-blk (ext4, raw image)" "$(rate blk-read)"
printf "| %-34s | %s |\n" "copy + sync, virtio-fs" "$(rate fs-copy)"
printf "| %-34s | %s |\n" "copy + sync, virtio-blk (ext4)" "$(rate blk-copy)"
