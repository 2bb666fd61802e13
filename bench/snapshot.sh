#!/usr/bin/env bash
# Snapshot create and restore through the per-VM API (Firecracker's requests), for guests of several RAM
# sizes: time of PUT /snapshot/create on a paused machine, the state and memory files' sizes (apparent and
# on disk: the memory file is sparse), and time of PUT /snapshot/load (resume_vm) in a fresh process.
# The guest is the default guest running a command that dirties MIB_TOUCHED MiB of its page cache, then idles.
#
#   bench/snapshot.sh                      # 256M and 2G, software CPU (auto: KVM where it is real)
#   bench/snapshot.sh --sizes "256 1024"   # RAM sizes in MiB
#   bench/snapshot.sh --accel emulate
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sizes="256 2048"
accel=auto
touched=64
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) sizes="$2"; shift 2 ;;
    --accel) accel="$2"; shift 2 ;;
    --touch-mib) touched="$2"; shift 2 ;;
    *) echo "usage: $0 [--sizes \"MIB ...\"] [--accel auto|kvm|emulate] [--touch-mib N]" >&2; exit 2 ;;
  esac
done
for tool in curl jq; do command -v "$tool" >/dev/null || { echo "bench: installing $tool" >&2; apt-get install -y -qq "$tool" >/dev/null; }; done

"$root/kvmsharp" --help >/dev/null   # build the CLI first, outside the timings
bin="$root/.build/cli/kvmsharp"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

config="$("$bin" run --print-config --exec "dd if=/dev/urandom of=/tmp/fill bs=1M count=$touched 2>/dev/null; echo ready; while true; do sleep 1; done")"
kernel="$(jq -r .kernel.path <<<"$config")"
initrd="$(jq -r .kernel.initrd_path <<<"$config")"
cmdline="$(jq -r .kernel.command_line <<<"$config")"

api() { # api SOCKET METHOD PATH [JSON] -> prints seconds taken; fails on a status other than 204
  local out status
  out="$(curl -s --unix-socket "$1" -X "$2" "http://localhost$3" ${4:+-H 'Content-Type: application/json' -d "$4"} -w '\n%{http_code} %{time_total}')"
  status="$(tail -n1 <<<"$out" | cut -d' ' -f1)"
  [ "$status" = 204 ] || { echo "bench: $2 $3 answered $out" >&2; exit 1; }
  tail -n1 <<<"$out" | cut -d' ' -f2
}
wait_for() { # wait_for FILE TEXT
  for _ in $(seq 1 6000); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "bench: '$2' never appeared in $1" >&2; exit 1
}
stop() { kill -9 "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
wait_socket() { for _ in $(seq 1 600); do [ -S "$1" ] && return 0; sleep 0.1; done; echo "bench: no socket $1" >&2; exit 1; }

printf '%-8s %-8s %12s %12s %14s %14s %12s\n' "RAM" "accel" "create (ms)" "state (KiB)" "mem apparent" "mem on disk" "load (ms)"
for mib in $sizes; do
  dir="$work/$mib"; mkdir -p "$dir"
  "$bin" run --api-sock "$dir/a.sock" --accel "$accel" >"$dir/a.out" 2>"$dir/a.err" & pids+=($!)
  wait_socket "$dir/a.sock"
  api "$dir/a.sock" PUT /machine-config "{\"vcpu_count\": 1, \"mem_size_mib\": $mib}" >/dev/null
  api "$dir/a.sock" PUT /boot-source "{\"kernel_image_path\": \"$kernel\", \"initrd_path\": \"$initrd\", \"boot_args\": \"$cmdline\"}" >/dev/null
  api "$dir/a.sock" PUT /actions '{"action_type": "InstanceStart"}' >/dev/null
  wait_for "$dir/a.out" ready
  api "$dir/a.sock" PATCH /vm '{"state": "Paused"}' >/dev/null
  create="$(api "$dir/a.sock" PUT /snapshot/create "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"$dir/vm.state\", \"mem_file_path\": \"$dir/vm.mem\"}")"
  used="$(grep -o 'on [a-z]*' "$dir/a.err" | head -n1 || true)"
  stop "${pids[-1]}"
  "$bin" run --api-sock "$dir/b.sock" >"$dir/b.out" 2>"$dir/b.err" & pids+=($!)
  wait_socket "$dir/b.sock"
  load="$(api "$dir/b.sock" PUT /snapshot/load "{\"snapshot_path\": \"$dir/vm.state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$dir/vm.mem\"}, \"resume_vm\": true}")"
  stop "${pids[-1]}"
  printf '%-8s %-8s %12.1f %12d %14s %14s %12.1f\n' "${mib}M" "${accel}" "$(echo "$create*1000" | bc -l)" \
    "$(( $(stat -c %s "$dir/vm.state") / 1024 ))" "$(du -h --apparent-size "$dir/vm.mem" | cut -f1)" "$(du -h "$dir/vm.mem" | cut -f1)" \
    "$(echo "$load*1000" | bc -l)"
  rm -rf "$dir"
done
