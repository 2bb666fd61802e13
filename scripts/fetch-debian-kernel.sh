#!/usr/bin/env bash
# Downloads the kernel that Debian's linux-image-cloud-amd64 metapackage points at, extracts it into a
# cache directory (reused when already there) and prints the path of its vmlinuz (a bzImage).
# Usage: scripts/fetch-debian-kernel.sh [cache-dir]
set -euo pipefail

cache_dir="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/kvmsharp/debian-kernel}"
meta=linux-image-cloud-amd64

find_vmlinuz() {
    find "$cache_dir/root/boot" -maxdepth 1 -name 'vmlinuz-*' -type f 2>/dev/null | sort | tail -n 1
}

existing="$(find_vmlinuz || true)"
if [[ -n "$existing" ]]; then
    echo "$existing"
    exit 0
fi

for tool in apt-cache apt-get dpkg; do
    command -v "$tool" >/dev/null || { echo "fetch-debian-kernel: '$tool' not found; run this on Debian/Ubuntu or put a vmlinuz in $cache_dir/root/boot" >&2; exit 1; }
done

# The metapackage depends on the real kernel package: linux-image-<ver>-cloud-amd64 (or its -unsigned twin).
resolve_package() {
    apt-cache depends "$meta" 2>/dev/null \
        | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}

package="$(resolve_package || true)"
if [[ -z "$package" ]]; then
    apt-get update >&2 || { echo "fetch-debian-kernel: apt-get update failed; need network access to the Debian archive" >&2; exit 1; }
    package="$(resolve_package || true)"
fi
[[ -n "$package" ]] || { echo "fetch-debian-kernel: cannot resolve the kernel package behind $meta (is this a Debian amd64 apt source?)" >&2; exit 1; }

mkdir -p "$cache_dir/debs"
cd "$cache_dir/debs"
if ! apt-get download "$package" >&2; then
    # The package lists may be stale (the archive dropped that version): refresh once and retry.
    apt-get update >&2 || { echo "fetch-debian-kernel: apt-get update failed; need network access to the Debian archive" >&2; exit 1; }
    package="$(resolve_package || true)"
    [[ -n "$package" ]] || { echo "fetch-debian-kernel: cannot resolve the kernel package behind $meta after apt-get update" >&2; exit 1; }
    apt-get download "$package" >&2 || { echo "fetch-debian-kernel: apt-get download $package failed" >&2; exit 1; }
fi

deb="$(ls -1 "$cache_dir/debs/${package}"_*.deb | tail -n 1)"
rm -rf "$cache_dir/root.tmp"
dpkg -x "$deb" "$cache_dir/root.tmp"
rm -rf "$cache_dir/root"
mv "$cache_dir/root.tmp" "$cache_dir/root"

vmlinuz="$(find_vmlinuz || true)"
[[ -n "$vmlinuz" ]] || { echo "fetch-debian-kernel: $deb contains no boot/vmlinuz-*" >&2; exit 1; }
echo "$vmlinuz"
