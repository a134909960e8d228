#!/bin/bash
# Builds the DPDK kdp links against, once, and prints its install prefix.
#
# kdp needs two things Debian's binary libdpdk-dev does not give: the driver
# SDK headers (kdp carries its own AF_PACKET driver, drivers/net_kdp_afp) and,
# later, more ethdev ports than 32. So it builds DPDK from Debian's own source
# package (the same 22.11 release as the binary package, Debian's patches
# applied), with only the drivers kdp can use, and keeps the result in a
# cache keyed by the source version and this configuration: the second call
# costs nothing. kdp links its shared libraries with an rpath to the cache;
# EAL loads the drivers from <prefix>/lib/dpdk/pmds-23.0.
#
#   tools/dpdk.sh            # prints e.g. /var/cache/kdp/dpdk/22.11.11-0+deb12u1-3f2a9c1d
#   KDP_DPDK_CACHE=dir       # where builds are kept (default /var/cache/kdp/dpdk)
#   KDP_DPDK_DRIVERS=list    # DPDK's enable_drivers (default: below)
#
# Messages go to standard error; standard output is the prefix only.
set -euo pipefail
cd "$(dirname "$0")/.."

cache=${KDP_DPDK_CACHE:-/var/cache/kdp/dpdk}
# Virtual devices for labs and tests, and the NICs of common bare-metal and
# cloud nodes (Intel, virtio, VMware, AWS ENA).
drivers=${KDP_DPDK_DRIVERS:-bus/pci,bus/vdev,mempool/ring,common/iavf,net/af_packet,net/tap,net/memif,net/null,net/ring,net/pcap,net/ixgbe,net/i40e,net/ice,net/iavf,net/e1000,net/virtio,net/vmxnet3,net/ena}
# Optional libraries kdp does not use (22.11 always builds the others).
disable_libs=bitratestats,cfgfile,flow_classify,gpudev,gro,kni,jobstats,latencystats,metrics,node,pdump,pipeline,port,power,table,vhost
max_ethports=${KDP_DPDK_MAX_ETHPORTS:-1024}
options=(-Denable_driver_sdk=true -Dtests=false
	-Ddisable_apps='*' -Dexamples= -Dmax_ethports="$max_ethports"
	-Denable_drivers="$drivers" -Ddisable_libs="$disable_libs"
	-Dbuildtype=release -Dplatform=generic)

log() { echo "dpdk: $*" >&2; }
die() {
	echo "dpdk: error: $*" >&2
	exit 1
}

# Debian's source package: add deb-src entries next to the deb ones when the
# machine has none (a fresh Debian has only "Types: deb").
has_src() { [[ $(apt-cache showsrc dpdk 2>/dev/null) == *$'\nVersion: '* ]]; }
ensure_deb_src() {
	has_src && return 0
	[[ $(id -u) == 0 ]] || die "no deb-src entry for Debian's dpdk source; run as root once"
	local f=/etc/apt/sources.list.d/kdp-deb-src.sources
	if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
		# deb822 stanzas: the same URIs, suites and keys with Types: deb-src.
		awk 'BEGIN { RS = ""; ORS = "\n\n" }
			/(^|\n)Types:[^\n]*deb/ && /debian/ {
				sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, ""); print }' \
			/etc/apt/sources.list.d/*.sources | grep -v '^#' >"$f.tmp" || true
	fi
	if [[ -f /etc/apt/sources.list ]]; then
		sed -n 's/^deb \(.*debian.*\)$/deb-src \1/p' /etc/apt/sources.list \
			>"${f%.sources}.list.tmp"
		if [[ -s ${f%.sources}.list.tmp ]]; then
			mv "${f%.sources}.list.tmp" "${f%.sources}.list"
		else
			rm -f "${f%.sources}.list.tmp"
		fi
	fi
	if [[ -s $f.tmp ]]; then mv "$f.tmp" "$f"; else rm -f "$f.tmp"; fi
	log "added Debian source entries ($f), updating the package lists"
	apt-get update -qq >&2 || die "apt-get update failed"
	has_src ||
		die "apt still knows no source package 'dpdk' (is deb-src for Debian configured?)"
}

ensure_deb_src
# The source version apt would fetch: the one of Debian's binary packages.
version=$(apt-cache showsrc dpdk | sed -n 's/^Version: //p' | sort -V | tail -1)
[[ -n $version ]] || die "cannot tell the version of Debian's dpdk source package"
key=$(printf '%s\n' "$version" "${options[@]}" "$(sha256sum "$0" | cut -c1-16)" |
	sha256sum | cut -c1-8)
prefix=$cache/$version-$key
if [[ -f $prefix/.complete ]]; then
	echo "$prefix"
	exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [[ -f $prefix/.complete ]]; then # built by someone else meanwhile
	echo "$prefix"
	exit 0
fi
for t in meson ninja dpkg-source; do
	command -v "$t" >/dev/null || die "$t is missing (tools/install-deps.sh installs it)"
done
/usr/bin/python3 -c "import elftools" 2>/dev/null || die "python3-pyelftools is missing (tools/install-deps.sh installs it)"

work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
log "building DPDK $version from Debian's source package into $prefix (once; about 2 minutes on 2 cores)"
(cd "$work" && apt-get source -qq "dpdk=$version" >/dev/null 2>"$work/source.log") || {
	cat "$work/source.log" >&2
	die "apt-get source dpdk=$version failed"
}
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'dpdk*' | head -1)
[[ -n $src ]] || die "the dpdk source package did not unpack"
meson setup "$work/build" "$src" --prefix="$prefix" --libdir=lib "${options[@]}" \
	>"$work/setup.log" 2>&1 || {
	tail -30 "$work/setup.log" >&2
	die "meson setup of DPDK failed (log above)"
}
ninja -C "$work/build" >"$work/build.log" 2>&1 || {
	tail -30 "$work/build.log" >&2
	die "building DPDK failed (log above)"
}
rm -rf "$prefix"
ninja -C "$work/build" install >"$work/install.log" 2>&1 || {
	tail -30 "$work/install.log" >&2
	die "installing DPDK into $prefix failed"
}
printf 'DPDK %s from Debian source, options: %s\n' "$version" "${options[*]}" >"$prefix/.complete"
log "DPDK $version ready in $prefix"
echo "$prefix"
