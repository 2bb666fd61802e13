#!/usr/bin/env bash
# Live migration on this machine: KvmSharp (software CPU, `kvmsharp run --incoming` + PUT /migrate) side by side
# with QEMU TCG's own migration (-incoming, QMP migrate/query-migrate) of the same kernel, initramfs and command
# line, for an idle guest and one that keeps dirtying memory. Both sides: 256 MiB, 1 vCPU, a 300 ms downtime limit
# (QEMU's max-bandwidth raised from its 128 MiB/s default so neither side is throttled). Prints one table.
# Usage: bench/live-migration.sh [--memory MiB] [--settle S]   (settle: seconds the guest runs after "ready")
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
memory=256 settle=3
while [ $# -gt 0 ]; do
  case "$1" in
    --memory) memory="$2"; shift 2 ;;
    --settle) settle="$2"; shift 2 ;;
    -h|--help) sed -n 2,7p "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
die() { echo "BENCHMARK ABORTED: $*" >&2; exit 1; }
if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
  apt-get install -y qemu-system-x86 >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y qemu-system-x86 >/dev/null; } \
    || echo "note: qemu-system-x86 could not be installed; the QEMU column stays empty" >&2
fi
paths="$("$root/kvmsharp" image pull)" || die "kvmsharp image pull failed"
kernel="$(echo "$paths" | awk '/kernel/ {print $NF}')"
initrd="$(echo "$paths" | awk '/initrd/ {print $NF}')"
[ -f "$kernel" ] && [ -f "$initrd" ] || die "image pull printed no kernel/initrd paths: $paths"
echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; guest: $(basename "$kernel"), ${memory} MiB, 1 vCPU"
exec python3 "$root/bench/live-migration/compare.py" "$root/.build/cli/kvmsharp" "$kernel" "$initrd" "$memory" "$settle"
