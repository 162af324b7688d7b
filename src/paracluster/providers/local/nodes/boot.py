"""Boot a node: from inside its network namespace, make its other namespaces and start its PID 1.

Usage: python -m paracluster.providers.local.nodes.boot PIDFILE -- PROGRAM [ARGS...]

Run under `nsenter --net=/run/netns/<name>`. It moves itself into the node's own cgroups (the root of the node's
cgroup namespace, where systemd keeps its units), unshares the PID and time namespaces, sets the node's boot and
monotonic clocks to zero (Slurm judges a resumed node by its uptime: a node that seems to have booted before the
resume request is never accepted), forks PROGRAM as PID 1 of the new PID namespace in new mount, UTS, IPC and
cgroup namespaces, writes PID 1's host PID to PIDFILE and exits at once, so the node outlives whoever booted it.

The booter itself stays in the host's mount namespace: PIDFILE is written where the host service reads it, whatever
PID 1 has mounted or pivoted by then.
"""

from __future__ import annotations

import os
import sys
import time

from paracluster.node.syscalls import (
    CLONE_NEWCGROUP,
    CLONE_NEWIPC,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWTIME,
    CLONE_NEWUTS,
    unshare,
)
from paracluster.providers.local.nodes import cgroups


def boot(pidfile: str, argv: list[str]) -> int:
    cgroups.enter(os.path.dirname(os.path.abspath(pidfile)))
    unshare(CLONE_NEWPID | CLONE_NEWTIME)
    # The offsets must be set before any process enters the time namespace, i.e. before the fork.
    offsets = []
    for clock, name in ((time.CLOCK_BOOTTIME, "boottime"), (time.CLOCK_MONOTONIC, "monotonic")):
        seconds, nanoseconds = divmod(-time.clock_gettime_ns(clock), 10**9)
        offsets.append(f"{name} {seconds} {nanoseconds}")
    with open("/proc/self/timens_offsets", "w") as out:
        out.write("\n".join(offsets))
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP)
            os.execv(argv[0], argv)
        except BaseException as err:  # noqa: BLE001 - the child must never return into the booter's code
            sys.stderr.write(f"failed to start the node's PID 1: {err}\n")
            sys.stderr.flush()
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
