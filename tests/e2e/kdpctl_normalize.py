#!/usr/bin/env python3
"""Normalizes kdpctl output for the golden files of tests/e2e/test_kdpctl.sh.

Reads kdpctl output on stdin and writes it with the volatile fields replaced
by placeholders: ages and expiry times (<t>), counters that depend on timing
(<n>), MAC addresses (<mac>) and ICMP identifiers (<id>). Everything else
(addresses, ports, names, types, backends, states) is left as it is.

Tables are found by their layout (kdpctl pads each column to its widest cell
and puts 3 spaces between columns): each block of lines between blank lines
is cut into columns at the positions where its first line (the header, or
the first "Key:  value" line) has a cell start. Cells are replaced by their
column's header or by their row's key, then the block is aligned again the
way kdpctl aligns it, so that a placeholder does not shift the columns.
JSON (a block starting with "{" or "[") is normalized by key instead.
"""
import re
import sys

MAC = re.compile(r"\b[0-9a-f]{2}(?::[0-9a-f]{2}){5}\b")

# Table columns whose cells are volatile, by header.
TIME_COLUMNS = {"AGE", "EXPIRES"}
COUNT_COLUMNS = {
    "RX PACKETS", "TX PACKETS", "RX BYTES", "TX BYTES", "RX MISSED", "RX ERRORS",
    "TX ERRORS", "PACKETS", "DROPPED", "BUSY%", "STALLS",
}
# Neighbour states change with time (reachable, stale, probing).
STATE_TABLES = {("IP", "MAC", "STATE")}
# "Key:  value" rows whose value is volatile, by key.
TIME_KEYS = {"Uptime:"}
# Sizes that change with every run.
MEMORY_KEYS = {"Memory:"}
COUNT_KEYS = {
    "RX packets:", "RX bytes:", "TX packets:", "TX bytes:", "Dropped:", "Punted:",
    "ICMP sent:", "Masqueraded packets:", "Left unmasqueraded:", "Neighbours:",
    "IPv6 neighbours:",
}
# Metrics whose value depends on timing: all but these gauges of the state.
STABLE_METRICS = {
    "kdp_build_info", "kdp_port_up", "kdp_conntrack_capacity", "kdp_services",
    "kdp_service_frontends", "kdp_service_backends", "kdp_endpoints", "kdp_nodes",
    "kdp_local_redirect_policies", "kdp_routes", "kdp_nat_masqueraded_flows_total",
    "kdp_nat_port_exhausted_total",
}
# JSON keys whose values are volatile.
JSON_TIME_KEYS = {"ageSeconds", "expiresInSeconds", "uptimeSeconds"}
JSON_COUNT_KEYS = {
    "rxPackets", "txPackets", "rxBytes", "txBytes", "rxMissed", "rxErrors", "txErrors",
    "dropped", "busyRatio", "packets", "gcRuns", "gcRemoved", "neighbours", "neighboursIPv6",
}
CT_FOOTER = re.compile(r"^(\d+ of \d+ flows shown \(capacity \d+\)); GC: \d+ runs, \d+ removed$")


def column_starts(header):
    """Start of each cell of a kdpctl table line (cells are 2+ spaces apart)."""
    starts = [0] if header and header[0] != " " else []
    starts += [m.end() for m in re.finditer(r"  +", header) if m.end() < len(header)]
    return starts


def cut(line, starts):
    """The cells of line; a cell that runs past its column (no 2 spaces
    before the next column's start) keeps the rest of the line."""
    cells = []
    for i, s in enumerate(starts):
        if i > 0 and len(line) > s and line[s - 2:s] != "  ":
            continue  # inside the previous cell: not a column start here
        cells.append(line[s:].rstrip())
        if len(cells) > 1:
            cells[-2] = line[prev:s].rstrip()
        prev = s
    return cells + [""] * (len(starts) - len(cells))


def align(rows):
    """Lays rows out as kdpctl does: columns padded to the widest cell, 3
    spaces apart; a cell that ran past its column does not count."""
    ncols = max(len(r) for r in rows)
    width = [0] * ncols
    for r in rows:
        for i, c in enumerate(r):
            if not (is_span(r) and i == 2):
                width[i] = max(width[i], len(c))
    out = []
    for r in rows:
        last = len(r) - 1
        while last > 0 and r[last] == "":
            last -= 1
        line = ""
        for i in range(last + 1):
            line += r[i]
            if i < last:
                line += " " * max(width[i] - len(r[i]) + 3, 3)
        out.append(line)
    return out


def is_span(r):
    """lrp list: the "|" rows have a mapping that runs past its column."""
    return len(r) > 2 and r[0] == "" and r[1] == "|"


def norm_cell(cell):
    cell = MAC.sub("<mac>", cell)
    return cell


def norm_table(lines):
    # a title line ("NAT") may come before the table: it has no columns
    first = next((i for i, l in enumerate(lines) if len(column_starts(l)) > 1), None)
    if first is None:
        return [norm_cell(l) for l in lines]
    if first > 0:
        return [norm_cell(l) for l in lines[:first]] + norm_table(lines[first:])
    starts = column_starts(lines[0])
    rows = [cut(l, starts) for l in lines]
    head = rows[0]
    metrics = head[:1] == ["NAME"] and "VALUE" in head
    state_table = tuple(head[:3]) in STATE_TABLES
    key = ""
    for r in rows[1:] if head[0].isupper() or metrics else rows:
        if r[0]:
            key = r[0]
        for i, c in enumerate(r):
            h = head[i] if i < len(head) else ""
            if c in ("", "-"):
                continue
            if h in TIME_COLUMNS:
                r[i] = "<t>"
            elif h in COUNT_COLUMNS:
                r[i] = "<n>"
            elif state_table and h == "STATE":
                r[i] = "<state>"
            elif metrics and h == "VALUE" and not stable_metric(r[0]):
                r[i] = "<n>"
            elif i == 1 and key in TIME_KEYS:
                r[i] = "<t>"
            elif i == 1 and key in COUNT_KEYS:
                r[i] = "<n>"
            elif i == 1 and key in MEMORY_KEYS:
                r[i] = "<mem>"
            elif i == 1 and key == "Port retries:":
                r[i] = re.sub(r":\d+", ":<n>", c)
            else:
                r[i] = norm_cell(c)
        if len(r) > 1 and r[0] == "ICMP":
            r[1:5] = [re.sub(r":\d+$", ":<id>", c) for c in r[1:5]]
    return align(rows)


def stable_metric(name):
    return name in STABLE_METRICS


def norm_json(lines):
    out = []
    for l in lines:
        m = re.match(r'^(\s*"(\w+)": )(-?[0-9.e+]+)(,?)$', l)
        if m and m.group(2) in JSON_TIME_KEYS:
            l = '%s"<t>"%s' % (m.group(1), m.group(4))
        elif m and m.group(2) in JSON_COUNT_KEYS:
            l = '%s"<n>"%s' % (m.group(1), m.group(4))
        out.append(MAC.sub("<mac>", l))
    return norm_metrics_json(out)


def norm_metrics_json(lines):
    """kdpctl metrics --json: the "value" of a volatile metric."""
    name = None
    for i, l in enumerate(lines):
        m = re.match(r'^\s*"name": "(\w+)",?$', l)
        if m:
            name = m.group(1)
        m = re.match(r'^(\s*"value": )(\S+?)(,?)$', l)
        if m and name is not None and not stable_metric(name):
            lines[i] = '%s"<n>"%s' % (m.group(1), m.group(3))
    return lines


def main():
    text = sys.stdin.read().rstrip("\n").split("\n")
    if text and text[0].lstrip().startswith(("{", "[")):
        sys.stdout.write("\n".join(norm_json(text)) + "\n")
        return
    out, block = [], []
    for line in text + [""]:
        if line.strip():
            block.append(line)
            continue
        if block:
            m = CT_FOOTER.match(block[0]) if len(block) == 1 else None
            out += [m.group(1) + "; GC: <n> runs, <n> removed"] if m else norm_table(block)
            block = []
        out.append("")
    sys.stdout.write("\n".join(out).rstrip("\n") + "\n")


if __name__ == "__main__":
    main()
