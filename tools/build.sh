#!/bin/sh
# Installs what is missing and builds kdp into build/ (or $KDP_BUILD).
# Extra arguments go to `meson setup` the first time (e.g. -Db_sanitize=address).
set -eu
cd "$(dirname "$0")/.."
tools/install-deps.sh
dir=${KDP_BUILD:-build}
if [ ! -f "$dir/build.ninja" ]; then
	meson setup "$dir" "$@" >/dev/null
fi
ninja -C "$dir" >/dev/null
echo "build: $dir/src/kdp and $dir/tools/kdpctl/kdpctl are ready"
