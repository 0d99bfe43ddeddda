#!/usr/bin/env python3
"""The fault cases for tests/fault/run.sh, from the `strace -f -o TRACE` of
one clean setup run: one line per case,

    CLASS <TAB> SYSCALL <TAB> WHEN <TAB> ACTION <TAB> WHAT

where `-e inject=SYSCALL:ACTION:when=WHEN` is the injection (strace counts
each syscall per tracee, i.e. per thread) and WHAT is the traced call it
hits in the clean run. ACTION `skip-ERRNO` marks a case not run, WHAT says why.

usage: cases.py TRACE MAX_KILL
"""

import re
import sys
from collections import defaultdict

CLASSES = [
    # (class, syscalls, errnos)
    ("write", ["write", "writev", "pwrite64", "pwritev", "pwritev2"], ["EIO", "ENOSPC"]),
    ("fsync", ["fsync", "fdatasync", "sync_file_range", "syncfs"], ["EIO"]),
    ("rename", ["rename", "renameat", "renameat2"], ["EIO"]),
    ("openat", ["open", "openat", "openat2", "creat"], ["EIO"]),
    ("copy_file_range", ["copy_file_range"], ["EIO"]),
]

# The dynamic loader's opens (before dockpoint's main): failing them is the
# loader's business ("error while loading shared libraries"), not ours.
LOADER = re.compile(r'ld\.so\.(cache|preload)|\.so(\.[0-9]+)*"')

CALL = re.compile(r"^(\d+)\s+([a-z_][a-z0-9_]*)\(")


def main():
    trace, max_kill = sys.argv[1], int(sys.argv[2])
    calls = []  # (tid, syscall, line)
    with open(trace, errors="replace") as f:
        for line in f:
            m = CALL.match(line)
            if m:
                calls.append((int(m.group(1)), m.group(2), line.rstrip("\n")))
    if not calls:
        sys.exit("no syscalls in " + trace)
    main_tid = calls[0][0]

    # per thread, per syscall: the lines of its occurrences in order
    seen = defaultdict(lambda: defaultdict(list))
    for tid, sc, line in calls:
        seen[sc][tid].append(line)

    def short(line):
        line = re.sub(r"^\d+\s+", "", line)
        return line if len(line) <= 110 else line[:107] + "..."

    out = []
    for cls, syscalls, errnos in CLASSES:
        for sc in syscalls:
            per_tid = seen.get(sc, {})
            most = max((len(v) for v in per_tid.values()), default=0)
            for n in range(1, most + 1):
                mine = per_tid.get(main_tid, [])
                if n <= len(mine):
                    what = short(mine[n - 1])
                    loader = LOADER.search(mine[n - 1]) is not None
                else:
                    other = next(v[n - 1] for v in per_tid.values() if len(v) >= n)
                    what = "in a worker thread: " + short(other)
                    loader = False
                for e in errnos:
                    if loader:
                        out.append((cls, sc, n, "skip-" + e, "dynamic loader: " + what))
                    else:
                        out.append((cls, sc, n, "error=" + e, what))

    # kill -9 at each syscall of the main thread (a sample when there are
    # more than max_kill): the k-th call of that syscall.
    points = []
    count = defaultdict(int)
    for tid, sc, line in calls:
        if tid != main_tid:
            continue
        count[sc] += 1
        if sc in ("execve", "exit_group", "exit"):
            continue
        points.append((sc, count[sc], short(line)))
    total = len(points)
    if total > max_kill:
        picked = sorted({(i * total) // max_kill for i in range(max_kill)})
        points = [points[i] for i in picked]
    for sc, k, what in points:
        out.append(("kill", sc, k, "signal=SIGKILL", what))
    print("#kill-points %d %d" % (len(points), total))
    for cls, sc, n, action, what in out:
        print("\t".join([cls, sc, str(n), action, what.replace("\t", " ")]))


main()
