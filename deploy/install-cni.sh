#!/bin/sh
# The init container: installs kdp-cni (static: it needs nothing from the
# host), host-local when the host has none, and the CNI configuration.
set -eu
bin=${CNI_BIN_DIR:-/host/opt/cni/bin}
conf=${CNI_CONF_DIR:-/host/etc/cni/net.d}
mkdir -p "$bin" "$conf"
install -m 0755 /usr/lib/kdp/kdp-cni "$bin/kdp-cni.new"
mv "$bin/kdp-cni.new" "$bin/kdp-cni"
[ -x "$bin/host-local" ] || install -m 0755 /usr/lib/cni/host-local "$bin/host-local"
install -m 0644 /etc/kdp/kdp-cni.conflist "$conf/05-kdp.conflist.new"
mv "$conf/05-kdp.conflist.new" "$conf/05-kdp.conflist"
echo "install-cni: kdp-cni in $bin, 05-kdp.conflist in $conf"
