"""Slurm's SuspendProgram (and ResumeFailProgram): terminate the instances behind the nodes Slurm powers down.

ParallelCluster's suspend program only logs and leaves termination to clustermgtd's next loop; here it terminates at
once so that idle nodes vanish within SuspendTimeout (the cluster manager still cleans up after it).
"""

from __future__ import annotations

import sys

from paracluster import fleet as contract
from paracluster.fleet import FleetError
from paracluster.slurm.hostlist import expand_hostlist
from paracluster.slurm.resume import log, power_up_generations, resume_request_id


def main() -> None:
    hostlist = sys.argv[1]
    nodes = expand_hostlist(hostlist)
    try:
        fleet = contract.connect()
        chosen = set(nodes)
        ids = [i.instance_id for i in fleet.instances() if i.node_name in chosen and i.address]
        if ids:
            fleet.terminate(resume_request_id("suspend", nodes, None, power_up_generations(nodes)), ids)
        log(f"suspend {hostlist}: terminated {len(ids)} instances")
    except FleetError as err:
        log(f"suspend {hostlist}: {err}; the cluster manager will terminate them")


if __name__ == "__main__":
    main()
