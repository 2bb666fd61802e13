#!/usr/bin/env bash
# TCP through user networking, guest <-> host: the default guest under `kvmsharp run --accel emulate --net user`
# (passt) and under `qemu-system-x86_64 -M pc -accel tcg -netdev user` (QEMU's SLIRP) with a virtio-net NIC,
# same kernel, initramfs and command, alternating, in one run. Both guests get their address by DHCP in /init
# and reach the host's loopback through their gateway's address (passt maps it there; SLIRP's 10.0.2.2 is the host).
# Upload: busybox nc sends 64 MiB of zeros to a sink on the host. Download: busybox wget fetches 64 MiB from an
# HTTP source on the host. The guest times each with /proc/uptime (10 ms; guest time follows host time on both
# sides). Prints the median MB/s (MiB of 2^20 bytes) of each side per direction and the ratio.
# Usage: bench/net-user.sh [--runs N] [--mib N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs=3
mib=64
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --mib) mib="$2"; shift 2 ;;
    -h|--help) sed -n 2,9p "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
die() { echo "BENCHMARK ABORTED: $*" >&2; exit 1; }
command -v qemu-system-x86_64 >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y qemu-system-x86 >/dev/null; } \
  || die "cannot install qemu-system-x86"
command -v passt >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y passt >/dev/null; } || die "cannot install passt"
command -v python3 >/dev/null 2>&1 || die "python3 is needed for the host's sink and source"

paths="$("$root/kvmsharp" image pull)" || die "kvmsharp image pull failed"
kernel="$(echo "$paths" | awk '/kernel/ {print $NF}')"
initrd="$(echo "$paths" | awk '/initrd/ {print $NF}')"
bin="$root/.build/cli/kvmsharp"
tmp="$(mktemp -d)"
bytes=$((mib << 20))

# The host's side on loopback: a sink that reads each connection to its end, and an HTTP source of $bytes zeros.
python3 "$root/bench/lib/tcp-sink-source.py" "$tmp/ports" "$bytes" 127.0.0.1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -f "$tmp/ports" ] && break; sleep 0.1; done
read -r sink_port source_port < "$tmp/ports" || die "the host's sink and source did not start"

# Each line: "R name bytes start end" with the guest's uptime before and after.
script="gw=\$(ip route show default | awk '{print \$3; exit}'); [ -n \"\$gw\" ] || { echo no default route; exit 1; }
a=\$(cut -d' ' -f1 /proc/uptime); head -c $bytes /dev/zero | nc \$gw $sink_port; echo R up $bytes \$a \$(cut -d' ' -f1 /proc/uptime)
a=\$(cut -d' ' -f1 /proc/uptime); wget -q -O /dev/null http://\$gw:$source_port/ && echo R down $bytes \$a \$(cut -d' ' -f1 /proc/uptime)"
cmdline="console=ttyS0 panic=-1 quiet loglevel=1 kvmsharp.exec=$(printf '%s' "$script" | base64 -w0)"

record() {  # record NAME OUTPUT-FILE: appends each direction's MB/s to NAME.up / NAME.down
  local pattern='R (up|down) [0-9]+ [0-9.]+ [0-9.]+'
  [ "$(grep -cE "$pattern" "$2")" -eq 2 ] || die "$1 printed no transfer results: $(tail -5 "$2")"
  grep -oE "$pattern" "$2" | awk -v out="$tmp/$1" '{ printf "%.1f\n", $3 / 1048576 / ($5 - $4) >> (out "." $2) }'
}
median() { sort -g "$1" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; guest: $(basename "$kernel"), 256 MiB, 1 vCPU; $mib MiB each way"
for n in $(seq "$runs"); do
  "$bin" run --accel emulate --memory 256 --net user --exec "$script" >"$tmp/k.out" 2>&1 || die "kvmsharp failed: $(tail -5 "$tmp/k.out")"
  record kvmsharp "$tmp/k.out"
  qemu-system-x86_64 -M pc -accel tcg -m 256 -nographic -no-reboot -kernel "$kernel" -initrd "$initrd" -append "$cmdline" \
    -netdev user,id=n -device virtio-net-pci,netdev=n -serial stdio -serial null -monitor none </dev/null >"$tmp/q.out" 2>&1 \
    || die "qemu failed: $(tail -5 "$tmp/q.out")"
  record qemu "$tmp/q.out"
done
printf '\n| TCP over user networking, %d MiB (median of %d) | KvmSharp emulate + passt | QEMU TCG + SLIRP | ratio |\n|---|---|---|---|\n' "$mib" "$runs"
for d in up down; do
  k=$(median "$tmp/kvmsharp.$d"); q=$(median "$tmp/qemu.$d")
  label=$([ "$d" = up ] && echo "guest -> host (nc upload)" || echo "host -> guest (wget download)")
  printf '| %s | %s MiB/s | %s MiB/s | %.2f |\n' "$label" "$k" "$q" "$(echo "$k / $q" | bc -l)"
done
