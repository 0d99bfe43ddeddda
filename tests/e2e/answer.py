#!/usr/bin/env python3
"""Run a command on a pseudo-terminal and answer its prompts, expect-style.

Usage: answer.py TRANSCRIPT PATTERN ANSWER [PATTERN ANSWER]... -- COMMAND...

Each ANSWER (a line) is typed only once PATTERN has appeared in the output
since the previous answer: the test waits on what the program prints, never
on time. A pattern that does not appear before the program ends, or within
the overall bound of 600 s, fails the run (exit 90). The whole transcript is
written to TRANSCRIPT; the exit code is the command's.
"""
import os
import pty
import select
import sys
import time

BOUND = 600


def main():
    argv = sys.argv[1:]
    sep = argv.index("--")
    transcript, pairs, cmd = argv[0], argv[1:sep], argv[sep + 1:]
    steps = list(zip(pairs[0::2], pairs[1::2]))
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    out = b""
    seen = 0  # output before this offset was matched already
    deadline = time.monotonic() + BOUND
    missing = None
    while True:
        if steps:
            pat = steps[0][0].encode()
            at = out.find(pat, seen)
            if at >= 0:
                seen = at + len(pat)
                os.write(fd, steps[0][1].encode() + b"\n")
                steps.pop(0)
                continue
        left = deadline - time.monotonic()
        if left <= 0:
            missing = steps[0][0] if steps else "(the end of the program)"
            os.kill(pid, 9)
            break
        r, _, _ = select.select([fd], [], [], min(left, 5))
        if not r:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    with open(transcript, "wb") as f:
        f.write(out)
    if steps and missing is None:
        missing = steps[0][0]
    if missing is not None:
        sys.stderr.write(f"answer.py: never saw {missing!r}; transcript in {transcript}\n")
        sys.exit(90)
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
