"""Slurm's SuspendProgram (and ResumeFailProgram): terminate the instances behind the nodes Slurm powers down.

ParallelCluster's suspend program only logs and leaves termination to clustermgtd's next loop; the local provider
terminates at once so that idle nodes vanish within SuspendTimeout (the cluster manager still cleans up after it).
"""

from __future__ import annotations

import sys
import time
import uuid

from paracluster.fleet import FleetClient, FleetError
from paracluster.slurm.hostlist import expand_hostlist
from paracluster.slurm.resume import log


def main() -> None:
    nodes = set(expand_hostlist(sys.argv[1]))
    fleet = FleetClient()
    try:
        ids = [i["instanceId"] for i in fleet.instances() if i.get("name") in nodes and i.get("privateIpAddress")]
        if ids:
            fleet.terminate(ids, request_id=uuid.uuid4().hex)
        log(f"suspend {sys.argv[1]}: terminated {len(ids)} instances")
    except FleetError as err:
        log(f"suspend {sys.argv[1]}: {err}; the cluster manager will terminate them")


if __name__ == "__main__":
    started = time.time()
    main()
