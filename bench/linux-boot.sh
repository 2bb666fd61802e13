#!/usr/bin/env bash
# The default guest (Debian cloud kernel + our busybox initramfs) booted to init, running one command
# and powered off, by `kvmsharp run --accel emulate --exec` with the block translator off and on
# (`--jit off|on`) and by `qemu-system-x86_64 -M pc -accel tcg` with the same kernel, initramfs and kernel
# command line, alternating, in one run. Reports the median wall time and the peak RSS of each side and
# the ratios to QEMU (issue 14: wall ≤ 2× QEMU's with --jit on; issue 4: RSS ≤ RAM + 64 MiB).
# Usage: bench/linux-boot.sh [--runs N] [--memory MiB] [--icount] [--skip-off]
#   (--icount: the software CPU runs with --icount 0; --skip-off: no --jit off runs, the slowest side, when only the
#   translator's ratio to QEMU is wanted on a busy host)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs=3 memory=256 icount=() sides=(jit-off jit-on)
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --memory) memory="$2"; shift 2 ;;
    --icount) icount=(--icount 0); shift ;;
    --skip-off) sides=(jit-on); shift ;;
    -h|--help) sed -n 2,8p "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
die() { echo "BENCHMARK ABORTED: $*" >&2; exit 1; }
need=()
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  apt-get install -y "${need[@]}" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "${need[@]}" >/dev/null; } \
    || die "cannot install ${need[*]}"
fi

paths="$("$root/kvmsharp" image pull)" || die "kvmsharp image pull failed"
kernel="$(echo "$paths" | awk '/kernel/ {print $NF}')"
initrd="$(echo "$paths" | awk '/initrd/ {print $NF}')"
[ -f "$kernel" ] && [ -f "$initrd" ] || die "image pull printed no kernel/initrd paths: $paths"
bin="$root/.build/cli/kvmsharp"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
# The same command line kvmsharp builds for --exec 'true' (DefaultGuestCommandLine.Exec).
cmdline="console=ttyS0 panic=-1 quiet loglevel=1 kvmsharp.exec=$(printf true | base64)"

run() {  # run NAME CMD... : appends seconds and peak KiB; checks the status
  local name="$1"; shift
  local start end status
  start=$(date +%s.%N)
  set +e; /usr/bin/time -o "$tmp/rss" -f %M "$@" >"$tmp/out" 2>&1 </dev/null; status=$?; set -e
  end=$(date +%s.%N)
  [ "$status" -eq 0 ] || die "$name exited with $status: $(tail -5 "$tmp/out")"
  echo "$end - $start" | bc -l >>"$tmp/$name.time"
  tail -1 "$tmp/rss" >>"$tmp/$name.rss"
}
median() { sort -g "$1" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
max() { sort -g "$1" | tail -1; }

echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; guest: $(basename "$kernel"), ${memory} MiB, 1 vCPU"
for n in $(seq "$runs"); do
  [ "${sides[0]}" = jit-off ] && run jit-off "$bin" run --accel emulate --jit off "${icount[@]}" --memory "${memory}M" --exec true
  run jit-on "$bin" run --accel emulate --jit on "${icount[@]}" --memory "${memory}M" --exec true
  run qemu qemu-system-x86_64 -M pc -accel tcg -m "$memory" -nographic -no-reboot \
    -kernel "$kernel" -initrd "$initrd" -append "$cmdline" -serial stdio -serial null -monitor none
done
q=$(median "$tmp/qemu.time"); qr=$(max "$tmp/qemu.rss")
printf '\n| side (median of %d) | boot → init → `true` → power off | wall / QEMU | peak RSS | RSS / QEMU |\n|---|---|---|---|---|\n' "$runs"
for side in "${sides[@]}"; do
  k=$(median "$tmp/$side.time"); kr=$(max "$tmp/$side.rss")
  printf '| KvmSharp emulate --%s | %.2f s | %.2f | %d MiB | %.2f |\n' "${side/-/ }" "$k" "$(echo "$k / $q" | bc -l)" $((kr / 1024)) "$(echo "$kr / $qr" | bc -l)"
done
printf '| QEMU TCG -M pc | %.2f s | 1 | %d MiB | 1 |\n' "$q" $((qr / 1024))
echo "Targets: wall ≤ 2× QEMU with --jit on (issue 14; goal < 1×); peak RSS ≤ RAM + 64 MiB = $((memory + 64)) MiB (issue 4)."
