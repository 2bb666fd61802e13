#!/usr/bin/env bash
# qcow2 4 KiB random I/O on the block backend (no device, no guest): allocating and in-place writes, reads with one
# and four threads, a FLUSH every 256 writes. --baseline REF builds the same program against git revision REF too
# (a plain export of that tree under .build/) and prints both tables, before and after.
# Usage: bench/qcow2-io.sh [--baseline REF] [--dir /dev/shm] [--size-mib 1024] [--seconds 3]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "${1:-}" in -h|--help) sed -n 2,5p "$0"; exit 0 ;; esac
baseline=""
if [ "${1:-}" = "--baseline" ]; then baseline="$2"; shift 2; fi
run() {   # run TREE LABEL ARGS...
  local tree="$1" label="$2"; shift 2
  local out="$root/.build/bench/qcow2-io-$label"
  dotnet build "$tree/bench/qcow2-io/Qcow2IoBench.csproj" -c Release -o "$out" -v quiet -nologo >/dev/null \
    || { echo "BENCHMARK ABORTED: build failed ($label)" >&2; exit 1; }
  echo "== $label"
  dotnet "$out/Qcow2IoBench.dll" "$@"
}
grep -m1 "model name" /proc/cpuinfo | sed 's/.*: /host cpu: /'
if [ -n "$baseline" ]; then
  tree="$root/.build/bench/baseline-tree"
  rm -rf "$tree" && mkdir -p "$tree"
  git -C "$root" archive "$baseline" | tar -x -C "$tree"
  mkdir -p "$tree/bench/qcow2-io" && cp "$root"/bench/qcow2-io/{Program.cs,Qcow2IoBench.csproj} "$tree/bench/qcow2-io/"
  run "$tree" "baseline-$baseline" "$@"
fi
run "$root" "this-tree" "$@"
