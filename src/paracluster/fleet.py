"""The fleet contract: launch, bind, terminate and list a cluster's compute instances; one contract for every provider.

A `Fleet` is what the head node's programs (ResumeProgram, SuspendProgram, the cluster manager) use to get and give
back compute instances; `connect()` gives them the one their cluster's provider serves. The contract:

- `launch` starts (or reserves) one instance per requested Slurm node; per compute resource all or nothing when
  asked (EC2 RunInstances with MinCount = count). `bind` ties launched instances to the Slurm nodes they back (on
  EC2: the node-name table item; locally: the node boots under that name). `terminate` ends instances.
- Calls that change something carry a request id and are idempotent by it: the same id returns the first answer,
  also after the serving process restarted, for as long as the answer's instances live (the answer is dropped when
  any of them ends, so a later request can never get back an instance that has since been terminated).
- Results are per node (or per instance) and errors are data (`NodeError` with an EC2-style code), never raised:
  ResumeProgram marks each failed node with its code. Only a fleet that cannot be reached at all raises FleetError.
- `status` says whether the cluster is managed (its create is complete; the cluster manager acts only then) and the
  compute fleet status, which `set_status` moves on (STOP_REQUESTED -> STOPPING -> STOPPED, ...).

Standard library only: this runs on the head node with the system Python.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Protocol

from paracluster.records import InstanceRecord, from_data, to_data

FLEET_SOCKET = "/run/paracluster/fleet/fleet.sock"  # inside the head node (local provider)
KNOBS = "/opt/slurm/etc/pcluster/paracluster.json"

# Failure codes of the contract. Insufficient capacity codes are EC2's; the cluster manager keeps a compute resource
# that got one out of use for insufficient_capacity_timeout.
ICE_CODES = frozenset({
    "InsufficientInstanceCapacity",
    "InsufficientHostCapacity",
    "InsufficientReservedInstanceCapacity",
    "MaxSpotInstanceCountExceeded",
    "Unsupported",
    "SpotMaxPriceTooLow",
})
INVALID_NODE = "InvalidNodenameError"  # the node is no compute node of the cluster
NOT_READY = "ClusterNotReady"  # the cluster is not created (or is being deleted)
INVALID_BINDING = "InvalidAssignment"  # the instance is not a launched instance for that node
BOOT_FAILURE = "InstanceBootFailure"  # the instance could not start
BOOTSTRAP_FAILURE = "BootstrapFailure"  # the node's bootstrap (custom actions, services) failed
NOT_FOUND = "InvalidInstanceID.NotFound"
UNREACHABLE = "Exception"  # ParallelCluster's code for a launch that failed without an EC2 code (fleet unreachable)

FLEET_STATUSES = ("RUNNING", "STOP_REQUESTED", "STOPPING", "STOPPED", "START_REQUESTED", "STARTING", "PROTECTED")


class FleetError(Exception):
    """The fleet could not be reached or refused the request as a whole."""


@dataclasses.dataclass
class LaunchNode:
    """A Slurm node that needs an instance."""

    name: str
    queue: str
    compute_resource: str


@dataclasses.dataclass
class NodeError:
    """Why a node (or, for terminate, an instance) got nothing: an EC2-style code and a sentence."""

    name: str  # the Slurm node name, or the instance id for terminate
    code: str
    message: str = ""


@dataclasses.dataclass
class LaunchResult:
    launched: list[InstanceRecord] = dataclasses.field(default_factory=list)  # node_name: the node it is for
    failed: list[NodeError] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class BindResult:
    bound: list[str] = dataclasses.field(default_factory=list)  # Slurm node names
    failed: list[NodeError] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class TerminateResult:
    terminated: list[str] = dataclasses.field(default_factory=list)  # instance ids
    failed: list[NodeError] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class FleetState:
    managed: bool  # the cluster's create is complete: its cluster manager may act
    status: str  # the compute fleet status (FLEET_STATUSES)
    last_updated_time: str | None = None


class Fleet(Protocol):
    """A cluster's compute fleet (see the module docstring for the contract)."""

    def launch(self, request_id: str, nodes: list[LaunchNode], all_or_nothing: bool) -> LaunchResult: ...

    def bind(self, request_id: str, bindings: dict[str, str]) -> BindResult:
        """Tie instances to Slurm nodes ({instance id: node name})."""

    def terminate(self, request_id: str, instance_ids: list[str]) -> TerminateResult: ...

    def instances(self) -> list[InstanceRecord]:
        """Compute instances that are not terminated (state pending, running, or failed with a reason)."""

    def status(self) -> FleetState: ...

    def set_status(self, status: str) -> FleetState: ...


def request_id(kind: str, parts) -> str:
    """A request id derived from what the request is about, so that a retry of the same request reuses it."""
    return hashlib.sha256(json.dumps([kind, parts], sort_keys=True).encode()).hexdigest()[:32]


# --- the wire form of the contract (paracluster.rpc requests) -------------------------------------------------------

OPERATIONS = frozenset({"launch", "bind", "terminate", "instances", "status", "set_status"})


class FleetClient:
    """A Fleet reached over a unix socket (the local provider's, mounted into the head node)."""

    def __init__(self, path: str = FLEET_SOCKET, timeout: float = 120.0):
        self.path = path
        self.timeout = timeout

    def _call(self, op: str, **args) -> object:
        from paracluster import rpc

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

    def launch(self, request_id: str, nodes: list[LaunchNode], all_or_nothing: bool) -> LaunchResult:
        return from_data(LaunchResult, self._call("launch", request_id=request_id, nodes=to_data(nodes),
                                                  all_or_nothing=all_or_nothing))

    def bind(self, request_id: str, bindings: dict[str, str]) -> BindResult:
        return from_data(BindResult, self._call("bind", request_id=request_id, bindings=bindings))

    def terminate(self, request_id: str, instance_ids: list[str]) -> TerminateResult:
        return from_data(TerminateResult, self._call("terminate", request_id=request_id,
                                                     instance_ids=instance_ids))

    def instances(self) -> list[InstanceRecord]:
        return [from_data(InstanceRecord, item) for item in self._call("instances")]

    def status(self) -> FleetState:
        return from_data(FleetState, self._call("status"))

    def set_status(self, status: str) -> FleetState:
        return from_data(FleetState, self._call("set_status", status=status))


def connect(knobs: dict | None = None) -> Fleet:
    """The fleet of this head node's cluster, as its knobs name it (`fleet.provider`)."""
    if knobs is None:
        with open(KNOBS) as source:
            knobs = json.load(source)
    settings = knobs.get("fleet") or {"provider": "local"}
    provider = settings.get("provider", "local")
    if provider == "local":
        return FleetClient(settings.get("socket", FLEET_SOCKET))
    if provider == "memory":
        from paracluster.fleet_memory import MemoryFleet  # tests and dry runs: an in-memory fleet in a state file

        return MemoryFleet.open(settings["state"])
    raise FleetError(f"failed to connect to the fleet: provider '{provider}' has no fleet on this node")
