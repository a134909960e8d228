#!/bin/sh
# Installs the Debian 12 packages kdp needs to build, test and run its lab.
# Idempotent: installs only what is missing; safe to run again.
set -eu

# DPDK itself is built from Debian's source package by tools/dpdk.sh (it
# needs dpkg-dev, python3-pyelftools, libnuma-dev and libpcap-dev).
PKGS="build-essential dpkg-dev meson ninja-build pkg-config python3-pyelftools
libjansson-dev libevent-dev libcunit1-dev libnuma-dev libpcap-dev
iproute2 ethtool iputils-ping tcpdump curl procps python3 python3-scapy python3-prometheus-client
dnsmasq-base bind9-dnsutils
clang libclang-rt-14-dev"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "install-deps: all packages present"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing:$missing; run as root to install them" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "install-deps: done"
