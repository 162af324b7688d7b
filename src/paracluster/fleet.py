"""The fleet interface: launch and terminate compute instances, and list them; one contract for every provider.

Calls are idempotent by request id (a repeated request returns the first answer) and report per-node results and
errors as data, never by raising: ResumeProgram must mark each failed node with its code. Node-side callers (resume
program, cluster manager) reach the provider's implementation over a unix socket inside the head node; only the
standard library is used here.

Requests (in paracluster.rpc's protocol):
  launch     {"request_id": str, "nodes": [{"name", "queue", "compute_resource"}], "all_or_nothing": bool}
             -> {"launched": [Instance], "failed": [{"name", "code", "message"}]}
             all_or_nothing applies per compute resource, like EC2 RunInstances with MinCount = count.
  terminate  {"request_id": str, "instance_ids": [str]} -> {"terminated": [str], "failed": [{"instanceId", ...}]}
  instances  {} -> {"instances": [Instance]}   (instances that are not terminated)
  fleet_status {} -> {"status": str, "lastStatusUpdatedTime": str}
  set_fleet_status {"status": str} -> {"status": str, ...}
Instance: {"instanceId", "name" (Slurm node name), "queue", "computeResource", "instanceType", "privateIpAddress",
           "launchTime" (epoch seconds), "state" ("pending" | "running"), "nodeType" ("Compute")}
Failure codes are EC2's: InsufficientInstanceCapacity, LimitedInstanceCapacity, InvalidNodenameError, ...
"""

from __future__ import annotations

import uuid

from paracluster import rpc

FLEET_SOCKET = "/run/paracluster/fleet/fleet.sock"  # inside the head node

ICE_CODES = frozenset({
    "InsufficientInstanceCapacity",
    "InsufficientHostCapacity",
    "InsufficientReservedInstanceCapacity",
    "MaxSpotInstanceCountExceeded",
    "Unsupported",
    "SpotMaxPriceTooLow",
})


class FleetError(Exception):
    """The fleet could not be reached or refused the request as a whole."""


class FleetClient:
    """Node-side client of the fleet socket."""

    def __init__(self, path: str = FLEET_SOCKET, timeout: float = 120.0):
        self.path = path
        self.timeout = timeout

    def call(self, op: str, **args) -> dict:
        try:
            with rpc.connect(self.path, self.timeout) as connection:
                answer = rpc.exchange(connection, op, args)
        except OSError as err:
            raise FleetError(f"failed to reach the fleet at {self.path}: {err}") from None
        if answer is None:
            raise FleetError(f"failed to {op}: the fleet closed the connection")
        if not answer.get("ok"):
            raise FleetError(f"failed to {op}: {answer.get('error', {}).get('message')}")
        return answer["result"]

    def launch(self, nodes: list[dict], all_or_nothing: bool, request_id: str | None = None) -> dict:
        return self.call("launch", request_id=request_id or uuid.uuid4().hex, nodes=nodes,
                         all_or_nothing=all_or_nothing)

    def terminate(self, instance_ids: list[str], request_id: str | None = None) -> dict:
        return self.call("terminate", request_id=request_id or uuid.uuid4().hex, instance_ids=instance_ids)

    def instances(self) -> list[dict]:
        return self.call("instances")["instances"]
