# shellcheck shell=bash
# What the peers share, sourced by kernel.sh and ovs.sh with PEER set to
# their name: options, log/die, their Debian packages, the checks before a
# run, the pcap's counts, stopping a process by PID.

# peer_args "$@": [--install] PCAP SECONDS into INSTALL, PCAP, SECS; prints
# the script's header comment and exits 2 otherwise.
peer_args() {
	INSTALL=0
	if [ "${1:-}" = "--install" ]; then
		INSTALL=1
		shift
	fi
	if [ $# -ne 2 ]; then
		sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
		exit 2
	fi
	PCAP=$(readlink -f "$1")
	SECS=$2
}

log() { echo "$PEER-peer: $*" >&2; }
die() {
	log "FAILED: $*"
	exit 1
}

# peer_packages PKG...: exits 3 naming the missing ones, or installs them
# with --install.
peer_packages() {
	local p missing=""
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing="$missing $p"
	done
	[ -n "$missing" ] || return 0
	if [ "$INSTALL" = 0 ]; then
		log "packages missing:$missing (run with --install to install them)"
		exit 3
	fi
	[ "$(id -u)" = 0 ] || die "installing needs root"
	log "installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# peer_checks WHY_ROOT WHY_TWO_CPUS: root, a readable pcap, a number of
# seconds, two CPUs.
peer_checks() {
	[ "$(id -u)" = 0 ] || die "needs root ($1)"
	[ -r "$PCAP" ] || die "no pcap $PCAP"
	case "$SECS" in '' | *[!0-9.]*) die "SECONDS must be a number" ;; esac
	[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs ($2)"
}

# peer_pcap_counts: FRAMES of the pcap and UDP FLOWS (every UDP frame is its
# own flow); dies when there is no UDP frame.
peer_pcap_counts() {
	read -r FRAMES FLOWS < <(python3 - "$PCAP" <<'PY'
import struct, sys
f = open(sys.argv[1], "rb"); f.read(24); n = u = 0
while True:
    h = f.read(16)
    if len(h) < 16: break
    cl = struct.unpack("<IIII", h)[2]; d = f.read(cl); n += 1
    if d[12:14] == b"\x08\x00" and d[23] == 17: u += 1
print(n, u)
PY
	)
	[ "$FLOWS" -gt 0 ] || die "$PCAP has no UDP frames"
}

# stop_pid PID [TENTHS]: TERM, then KILL after TENTHS tenths of a second.
stop_pid() {
	local pid=$1 i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq "${2:-50}"); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
