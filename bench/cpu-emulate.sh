#!/usr/bin/env bash
# The software CPU against QEMU's TCG on the same CPU-bound guest, one run:
# `kvmsharp guest build cpu-loop` (xorshift + multiply-add, a known instruction count per iteration),
# run by `kvmsharp run --accel emulate` and by `qemu-system-x86_64 -M microvm,accel=tcg`; both must
# print the same checksum. Reports wall time (median), guest instructions per second, and the ratio.
# Usage: bench/cpu-emulate.sh [--iterations N] [--runs N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
iterations=20000000 runs=3
while [ $# -gt 0 ]; do
  case "$1" in
    --iterations) iterations="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    -h|--help) sed -n 2,6p "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
die() { echo "BENCHMARK ABORTED: $*" >&2; exit 1; }
command -v qemu-system-x86_64 >/dev/null 2>&1 || { apt-get install -y qemu-system-x86 >/dev/null 2>&1 \
  || { apt-get update >/dev/null && apt-get install -y qemu-system-x86 >/dev/null; } || die "cannot install qemu-system-x86"; }

command -v bc >/dev/null 2>&1 || { apt-get install -y bc >/dev/null 2>&1 || die "cannot install bc"; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
"$root/kvmsharp" guest build cpu-loop --count "$iterations" --out "$tmp/cpu.bin" >/dev/null || die "kvmsharp guest build failed"
bin="$root/.build/cli/kvmsharp"
per_iteration=13   # TinyGuests.CpuLoopInstructionsPerIteration (the loop is 13 instructions: 3 × mov/shift/xor, imul, add, dec, jnz)
instructions=$((iterations * per_iteration))

run() {  # run NAME CMD... -> prints seconds; checks output and status
  local name="$1"; shift
  local start end out status
  start=$(date +%s.%N)
  set +e; out="$("$@" 2>&1)"; status=$?; set -e
  end=$(date +%s.%N)
  [ "$status" -eq 1 ] || die "$name exited with $status: $out"
  echo "$out" | grep -o 'checksum [0-9a-f]*' >>"$tmp/$name.sum" || die "$name printed no checksum: $out"
  echo "$end - $start" | bc -l >>"$tmp/$name.time"
}
median() { sort -g "$1" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "Running $runs times each: $iterations iterations ($instructions guest instructions)..." >&2
for ((i = 0; i < runs; i++)); do
  run kvmsharp "$bin" run --kernel "$tmp/cpu.bin" --debug-exit 0xf4 --accel emulate --console stdio --memory 64M
  run qemu qemu-system-x86_64 -M microvm,accel=tcg -m 64M -nodefaults -no-user-config -nographic -serial stdio \
    -device isa-debug-exit,iobase=0xf4,iosize=4 -kernel "$tmp/cpu.bin"
done
[ "$(sort -u "$tmp/kvmsharp.sum" "$tmp/qemu.sum" | wc -l)" -eq 1 ] || die "checksums differ: $(sort -u "$tmp"/*.sum | tr '\n' ' ')"

k=$(median "$tmp/kvmsharp.time"); q=$(median "$tmp/qemu.time")
echo
echo "Host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) CPUs; QEMU: $(qemu-system-x86_64 --version | head -1)"
echo "Guest: cpu-loop, $iterations iterations x $per_iteration instructions; both printed $(head -1 "$tmp/qemu.sum")"
printf "%-34s %12s %12s %8s\n" metric KvmSharp "QEMU TCG" ratio
awk -v k="$k" -v q="$q" -v n="$instructions" 'BEGIN {
  printf "%-34s %12.2f %12.2f %8.2f\n", "wall, median (s)", k, q, k / q
  printf "%-34s %12.0f %12.0f %8.2f\n", "guest instructions/s (millions)", n / k / 1e6, n / q / 1e6, (n / k) / (n / q)
  printf "%-34s %12s\n", "target: wall <= 20x QEMU", (k / q <= 20 ? "PASS" : "MISS") }'
echo "Wall time includes process start (~10 ms for KvmSharp, ~50 ms for QEMU) and guest boot."
