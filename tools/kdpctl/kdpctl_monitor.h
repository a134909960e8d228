/* SPDX-License-Identifier: BSD-3-Clause */
/* kdpctl monitor: the flow monitor's stream, printed as hubble observe does. */
#ifndef KDPCTL_MONITOR_H
#define KDPCTL_MONITOR_H

struct kdpctl_opts;

/**
 * Runs `kdpctl ... monitor ...` when the command word of @p argv is
 * "monitor" (it takes options no other command has, so it parses them
 * itself). @p socket is the default socket path.
 * @return the exit status, or -1 when the command is another one.
 */
int kdpctl_monitor_main(int argc, char **argv, const char *socket);

/** The command table's entry point; kdpctl_monitor_main runs first. */
int kdpctl_monitor_cmd(const struct kdpctl_opts *o);

#endif
