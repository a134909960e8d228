#!/bin/sh
# Installs what is missing, builds DPDK once (tools/dpdk.sh, cached) and
# builds kdp into build/ (or $KDP_BUILD). Extra arguments go to `meson setup`
# (e.g. -Db_sanitize=address); a build directory made against another DPDK is
# set up again.
set -eu
cd "$(dirname "$0")/.."
tools/install-deps.sh
dpdk=$(tools/dpdk.sh)
dir=${KDP_BUILD:-build}
if [ ! -f "$dir/build.ninja" ] || [ "$(cat "$dir/.kdp-dpdk" 2>/dev/null)" != "$dpdk" ]; then
	wipe=""
	[ -f "$dir/build.ninja" ] && wipe=--wipe
	meson setup $wipe "$dir" --pkg-config-path="$dpdk/lib/pkgconfig" "$@" >/dev/null
	echo "$dpdk" >"$dir/.kdp-dpdk"
fi
ninja -C "$dir" >/dev/null
echo "build: $dir/src/kdp and $dir/tools/kdpctl/kdpctl are ready"
