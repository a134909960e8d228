#!/usr/bin/python3
"""Checks the README's check counts of the test files it names against the
counts the suite just saw (tools/test.sh writes them: "tests/FILE CHECKS" a
line). A count is what follows a file's name: "`tests/e2e/test_lrp.sh`, 23
checks" or "`tests/cni/test_cni.sh` (30, ...". Prints PASS/FAIL per count and
"N passed, M failed"; a file the suite did not run is a failure.

    tools/readme_counts.py README.md COUNTS
"""
import re
import sys

readme, counts_file = sys.argv[1:3]
seen = {}
for line in open(counts_file):
    path, n = line.split()
    seen[path] = int(n)
claim = re.compile(r"`(tests/[\w/.-]+\.(?:sh|py))`(?:,| \()\s*(\d+)(?: checks)?[,)]")
passed = failed = 0
for lineno, line in enumerate(open(readme), 1):
    for path, n in claim.findall(line):
        got = seen.get(path)
        ok = got == int(n)
        if ok:
            passed += 1
        else:
            failed += 1
        print("%s  README.md:%d: %s has %s checks (the suite ran %s)" %
              ("PASS" if ok else "FAIL", lineno, path, n, "none of it" if got is None else got))
if passed + failed == 0:
    failed = 1
    print("FAIL  README.md names no test with a count: the pattern is out of date")
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
