#!/usr/bin/env bash
# Firmware boot, side by side in one run: SeaBIOS → GRUB → the default guest's init running `true` → power off,
# from the same raw disk (`kvmsharp image build default-guest --exec true`), by `kvmsharp run --firmware bios
# --accel emulate` and by `qemu-system-x86_64 -M pc -accel tcg` (QEMU's own SeaBIOS build). Reports median wall time,
# peak RSS and the ratios. The same for UEFI: OVMF → GRUB (from the disk's EFI system partition) → init → power off, from
# `image build default-guest --firmware uefi`, with Debian's OVMF on both (QEMU's as two pflash drives). With --debian IMAGE (from `kvmsharp image build debian`), also firmware → systemd's login
# prompt on the serial console for that image on both (each boots a throwaway qcow2 overlay).
# Usage: bench/firmware-boot.sh [--runs N] [--debian IMAGE.qcow2]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs=3 debian=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --debian) debian="$2"; shift 2 ;;
    -h|--help) sed -n 2,7p "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
die() { echo "BENCHMARK ABORTED: $*" >&2; exit 1; }
need=()
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
command -v qemu-img >/dev/null 2>&1 || need+=(qemu-utils)
[ -x /usr/bin/time ] || need+=(time)
[ -f /usr/share/seabios/bios-256k.bin ] || need+=(seabios)
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || need+=(ovmf)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  apt-get install -y "${need[@]}" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "${need[@]}" >/dev/null; } \
    || die "cannot install ${need[*]}"
fi
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
"$root/kvmsharp" image build default-guest --exec true --out "$tmp/guest.raw" 2>"$tmp/build.log" || die "image build failed: $(tail -3 "$tmp/build.log")"
"$root/kvmsharp" image build default-guest --firmware uefi --exec true --out "$tmp/efi.raw" 2>"$tmp/build.log" || die "image build failed: $(tail -3 "$tmp/build.log")"
bin="$root/.build/cli/kvmsharp"

run() {  # run NAME CMD... : appends seconds and peak KiB; the guest powers itself off
  local name="$1"; shift
  local start end status
  start=$(date +%s.%N)
  set +e; /usr/bin/time -o "$tmp/rss" -f %M "$@" >"$tmp/out" 2>&1 </dev/null; status=$?; set -e
  end=$(date +%s.%N)
  [ "$status" -eq 0 ] || die "$name exited with $status: $(tail -5 "$tmp/out")"
  grep -q "Booting \`kvmsharp default guest'" "$tmp/out" || die "$name did not boot through GRUB: $(tail -5 "$tmp/out")"
  echo "$end - $start" | bc -l >>"$tmp/$name.time"
  tail -1 "$tmp/rss" >>"$tmp/$name.rss"
}
# until NAME PATTERN CMD... : runs CMD until PATTERN is on its console, then ends it; appends seconds and peak KiB.
until_seen() {
  local name="$1" pattern="$2"; shift 2
  python3 - "$tmp" "$name" "$pattern" "$@" <<'PY'
import os, re, resource, subprocess, sys, time
tmp, name, pattern, cmd = sys.argv[1], sys.argv[2], sys.argv[3].encode(), sys.argv[4:]
start = time.monotonic()
p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
seen = b""
while pattern not in seen:
    chunk = p.stdout.read1(65536)
    if not chunk: sys.exit(f"{name} ended before '{pattern.decode()}': {seen[-400:].decode(errors='replace')}")
    seen += chunk
elapsed = time.monotonic() - start
p.kill(); p.wait()
with open(f"{tmp}/{name}.time", "a") as f: f.write(f"{elapsed}\n")
with open(f"{tmp}/{name}.rss", "a") as f: f.write(f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\n")
PY
}
median() { sort -g "$1" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
max() { sort -g "$1" | tail -1; }

echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; guest: 256 MiB, 1 vCPU"
for n in $(seq "$runs"); do
  run kvmsharp "$bin" run --firmware bios --accel emulate --memory 256M --console stdio --disk "$tmp/guest.raw,format=raw,readonly=on"
  run qemu qemu-system-x86_64 -M pc -accel tcg -m 256 -nographic -no-reboot -monitor none -serial stdio \
    -drive "file=$tmp/guest.raw,format=raw,if=virtio,readonly=on"
  cp /usr/share/OVMF/OVMF_VARS_4M.fd "$tmp/k_VARS.fd"; cp /usr/share/OVMF/OVMF_VARS_4M.fd "$tmp/q_VARS.fd"
  run kvmsharp-uefi "$bin" run --firmware uefi --firmware-vars "$tmp/k_VARS.fd" --accel emulate --memory 256M --console stdio \
    --disk "$tmp/efi.raw,format=raw,readonly=on"
  run qemu-uefi qemu-system-x86_64 -M pc -accel tcg -m 256 -nographic -no-reboot -monitor none -serial stdio \
    -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd -drive "if=pflash,format=raw,file=$tmp/q_VARS.fd" \
    -drive "file=$tmp/efi.raw,format=raw,if=virtio,readonly=on"
  if [ -n "$debian" ]; then
    qemu-img create -q -f qcow2 -b "$(realpath "$debian")" -F qcow2 "$tmp/k.qcow2"
    until_seen kvmsharp-debian "login:" "$bin" run --firmware bios --accel emulate --memory 1G --console stdio --disk "$tmp/k.qcow2,format=qcow2"
    qemu-img create -q -f qcow2 -b "$(realpath "$debian")" -F qcow2 "$tmp/q.qcow2"
    until_seen qemu-debian "login:" qemu-system-x86_64 -M pc -accel tcg -m 1024 -nographic -monitor none -serial stdio \
      -drive "file=$tmp/q.qcow2,format=qcow2,if=virtio"
  fi
done
row() {  # row LABEL NAME
  local k q kr qr
  k=$(median "$tmp/kvmsharp$2.time"); q=$(median "$tmp/qemu$2.time"); kr=$(max "$tmp/kvmsharp$2.rss"); qr=$(max "$tmp/qemu$2.rss")
  printf '| %s | %.2f s | %.2f s | %.1f | %d MiB | %d MiB | %.2f |\n' "$1" "$k" "$q" "$(echo "$k / $q" | bc -l)" \
    $((kr / 1024)) $((qr / 1024)) "$(echo "$kr / $qr" | bc -l)"
}
printf '\n| median of %d | KvmSharp emulate | QEMU TCG -M pc | ratio | KvmSharp peak RSS | QEMU peak RSS | ratio |\n|---|---|---|---|---|---|---|\n' "$runs"
row 'SeaBIOS → GRUB → init → `true` → power off' ""
row 'OVMF → GRUB → init → `true` → power off' "-uefi"
[ -z "$debian" ] || row 'SeaBIOS → GRUB → Debian 12 systemd login prompt' "-debian"
