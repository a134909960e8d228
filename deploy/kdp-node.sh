#!/bin/sh
# The kdp container's entry point: writes this node's kdp config from the
# template of the kdp-config ConfigMap (@NODE_NAME@ and @NODE_IP@ replaced by
# the downward API's values) and runs kdp with it.
set -eu
: "${NODE_NAME:?NODE_NAME must be set (spec.nodeName)}"
: "${NODE_IP:?NODE_IP must be set (status.hostIP)}"
tmpl=${KDP_CONFIG_TEMPLATE:-/etc/kdp/kdp.json.in}
out=${KDP_CONFIG:-/run/kdp/kdp.json}
mkdir -p "$(dirname "$out")" /var/lib/kdp
sed -e "s|@NODE_NAME@|$NODE_NAME|g" -e "s|@NODE_IP@|$NODE_IP|g" "$tmpl" >"$out.tmp"
mv "$out.tmp" "$out"
kdp --config "$out" --check
exec kdp --config "$out"
