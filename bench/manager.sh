#!/usr/bin/env bash
# The manager daemon against its peer, side by side in one run, through the same real clients (virsh, python3-libvirt):
# kvmsharpd running the default guest on the software CPU, and Debian's libvirt 9.0 (libvirtd) running the same kernel
# and initramfs on QEMU TCG. Measured: `virsh list --all` with 50 defined domains (median of 10), create to the first
# console byte (median of 3, through a libvirt console stream), the daemon's RSS idle with 50 defined and with 20
# running, and the running domains' VMM processes' RSS summed.
#
#   bench/manager.sh                  # both
#   bench/manager.sh --defined 50 --running 20
#
# libvirt-daemon-system is installed here for the peer only (never by the project or its tests); its qemu.conf gets
# QEMU as root, no cgroups, no security driver and file console logs (no virtlogd), marked "kvmsharp bench".
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
defined=50
running=20
while [ $# -gt 0 ]; do
  case "$1" in
    --defined) defined="$2"; shift 2 ;;
    --running) running="$2"; shift 2 ;;
    *) echo "usage: $0 [--defined N] [--running N]" >&2; exit 2 ;;
  esac
done
need=()
command -v virsh >/dev/null || need+=(libvirt-clients)
/usr/bin/python3 -c 'import libvirt' 2>/dev/null || need+=(python3-libvirt)
command -v libvirtd >/dev/null || need+=(libvirt-daemon-system)
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v jq >/dev/null || need+=(jq)
if [ ${#need[@]} -gt 0 ]; then
  echo "bench: installing ${need[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

"$root/kvmsharp" --help >/dev/null               # builds kvmsharp and kvmsharpd, outside the timings
"$root/kvmsharp" image pull >/dev/null
kernel="$HOME/.cache/kvmsharp/default-guest/vmlinuz"
initrd="$HOME/.cache/kvmsharp/default-guest/initrd.img"
work="$(mktemp -d)"
daemon=""
cleanup() {
  [ -n "$daemon" ] && kill -9 "$daemon" 2>/dev/null || true
  for f in "$work"/state/domains/*/vmm.json; do [ -f "$f" ] && kill -9 "$(jq .pid "$f")" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

devices="<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='@DISK@'/><target dev='vda' bus='virtio'/></disk>
    <serial type='pty'><target port='0'/></serial><console type='pty'><target type='serial' port='0'/></console>"
os="<type arch='x86_64'>hvm</type><kernel>$kernel</kernel><initrd>$initrd</initrd><cmdline>console=ttyS0 panic=-1</cmdline>"
cat > "$work/kvmsharp.xml" <<XML
<domain type='qemu'><name>@NAME@</name><memory unit='MiB'>@MEMORY_MIB@</memory><vcpu>1</vcpu>
  <os>$os</os><devices>$devices</devices></domain>
XML
cat > "$work/libvirt.xml" <<XML
<domain type='qemu'><name>@NAME@</name><memory unit='MiB'>@MEMORY_MIB@</memory><vcpu>1</vcpu>
  <os>$os</os><devices><emulator>/usr/bin/qemu-system-x86_64</emulator>$devices<memballoon model='none'/></devices></domain>
XML

# kvmsharpd
"$root/.build/cli/kvmsharpd" --state-dir "$work/state" --socket "$work/sock" >"$work/kvmsharpd.log" 2>&1 &
daemon=$!
for _ in $(seq 100); do [ -S "$work/sock-ro" ] && break; sleep 0.1; done
ours="$(/usr/bin/python3 "$root/bench/manager/measure.py" "kvmsharp+unix:///system?socket=$work/sock" "$daemon" "$work/kvmsharp.xml" "$work" "$defined" "$running")"
kill -TERM "$daemon"; wait "$daemon" 2>/dev/null || true; daemon=""

# libvirtd + QEMU TCG
if ! grep -q "kvmsharp bench" /etc/libvirt/qemu.conf; then
  printf '%s\n' '# ---- kvmsharp bench/manager.sh: QEMU as root, no cgroups, no security driver, console logs to files (no virtlogd)' \
    'user = "root"' 'group = "root"' 'security_driver = "none"' 'stdio_handler = "file"' 'cgroup_controllers = [ ]' >> /etc/libvirt/qemu.conf
  pkill -x libvirtd 2>/dev/null && sleep 1 || true
fi
pgrep -x libvirtd >/dev/null || { libvirtd -d; for _ in $(seq 100); do [ -S /run/libvirt/libvirt-sock ] && break; sleep 0.1; done; }
peer="$(/usr/bin/python3 "$root/bench/manager/measure.py" "qemu:///system" "$(pgrep -x libvirtd)" "$work/libvirt.xml" "$work" "$defined" "$running")"

row() { jq -r --arg n "$1" '[$n, .list_ms, .start_console_ms, (.rss_idle_kib/1024*10|round/10), (.rss_running_kib/1024*10|round/10), (.vmm_rss_kib/1024|round)] | @tsv' <<<"$2"; }
{
  printf 'manager\tlist --all (ms, %s defined)\tstart → 1st console byte (ms)\tdaemon RSS idle (MiB)\tdaemon RSS, %s running (MiB)\tVMMs RSS, %s running (MiB)\n' "$defined" "$running" "$running"
  row "kvmsharpd + KvmSharp (software CPU)" "$ours"
  row "libvirtd 9.0 + QEMU 7.2 TCG" "$peer"
} | column -t -s $'\t'
