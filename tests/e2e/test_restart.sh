#!/usr/bin/env bash
# End-to-end test: kill -9 and restart of k8s-ctr's kdp under traffic, timed,
# then an upgrade (tools/bench/restart.sh with one round of each and a
# bound): the state after the restart equals the state before, the three
# probe flows (a pod on the other node, a ClusterIP, a masqueraded flow) are
# forwarded again within RESTART_MAX_MS (3000; the target is 1000, the
# bound leaves room for a busy CI machine), and the upgrade loses no probe.
# Prints the figures.
#
#   sudo tests/e2e/test_restart.sh        (KDP_BUILD=<dir>, default build)
ROUNDS=${ROUNDS:-1} RESTART_MAX_MS=${RESTART_MAX_MS:-3000} \
	exec "$(dirname "$0")/../../tools/bench/restart.sh"
