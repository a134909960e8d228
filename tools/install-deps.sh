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
clang libclang-rt-14-dev
libcurl4-openssl-dev libyaml-dev containernetworking-plugins openssl"

# kubectl for the manifest test comes from Debian's kubernetes-client. When
# another package owns /usr/bin/kubectl (a cloud SDK's), Debian's is unpacked
# under $KUBECTL_DIR instead of fighting over the file.
KUBECTL_DIR=/var/cache/kdp/kubernetes-client
kubectl_local=""
if ! dpkg-query -W -f='${Status}' kubernetes-client 2>/dev/null | grep -q "install ok installed" &&
	[ ! -x "$KUBECTL_DIR/usr/bin/kubectl" ]; then
	if [ -e /usr/bin/kubectl ]; then
		kubectl_local=1
	else
		PKGS="$PKGS kubernetes-client"
	fi
fi

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -z "$missing" ] && [ -z "$kubectl_local" ]; then
	echo "install-deps: all packages present"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing:$missing; run as root to install them" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if [ -n "$missing" ]; then
	echo "install-deps: installing$missing"
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
if [ -n "$kubectl_local" ]; then
	echo "install-deps: /usr/bin/kubectl belongs to $(dpkg -S /usr/bin/kubectl 2>/dev/null | cut -d: -f1); unpacking Debian's kubernetes-client into $KUBECTL_DIR"
	tmp=$(mktemp -d)
	chmod 755 "$tmp" # apt's download user writes there
	(cd "$tmp" && apt-get download -qq kubernetes-client >/dev/null) &&
		mkdir -p "$KUBECTL_DIR" && dpkg-deb -x "$tmp"/kubernetes-client_*.deb "$KUBECTL_DIR"
	rm -rf "$tmp"
	[ -x "$KUBECTL_DIR/usr/bin/kubectl" ] || { echo "install-deps: unpacking kubernetes-client failed" >&2; exit 1; }
fi
echo "install-deps: done"
