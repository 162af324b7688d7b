"""Boot a node: from inside its network namespace, make its other namespaces and start its PID 1.

Usage: python -m paracluster.providers.local.nodes.boot PIDFILE -- PROGRAM [ARGS...]

Run under `nsenter --net=/run/netns/<name>`. It unshares the mount, UTS, IPC, PID and time namespaces, sets the
node's boot clock to zero (Slurm judges a resumed node by its uptime: a node that seems to have booted before the
resume request is never accepted), forks PROGRAM as PID 1 of the new PID namespace, writes PID 1's host PID to
PIDFILE and exits at once, so the node outlives whoever booted it.
"""

from __future__ import annotations

import os
import sys
import time

from paracluster.node.syscalls import (
    CLONE_NEWIPC,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWTIME,
    CLONE_NEWUTS,
    unshare,
)


def boot(pidfile: str, argv: list[str]) -> int:
    unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWTIME)
    # The offset must be set before any process enters the time namespace, i.e. before the fork.
    seconds, nanoseconds = divmod(-time.clock_gettime_ns(time.CLOCK_BOOTTIME), 10**9)
    with open("/proc/self/timens_offsets", "w") as offsets:
        offsets.write(f"boottime {seconds} {nanoseconds}")
    pid = os.fork()
    if pid == 0:
        os.setsid()
        try:
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    temporary = f"{pidfile}.tmp"
    with open(temporary, "w") as out:
        out.write(f"{pid}\n")
    os.replace(temporary, pidfile)
    return 0


def main() -> None:
    args = sys.argv[1:]
    if len(args) < 3 or args[1] != "--":
        sys.stderr.write("usage: python -m paracluster.providers.local.nodes.boot PIDFILE -- PROGRAM [ARGS...]\n")
        raise SystemExit(2)
    raise SystemExit(boot(args[0], args[2:]))


if __name__ == "__main__":
    main()
