"""What a provider gathers for `paracluster diagnose`: each node's probe answer (paracluster.node.probe) and the
cluster's settings the checks need. Plain records, so captured facts make test cases."""

from __future__ import annotations

import dataclasses

from paracluster.records import NodeFailure


@dataclasses.dataclass
class NodeFacts:
    """One node: what it should run, its probe's answer (None when the probe could not run, with `error`), the host's
    clock around the probe, and whether the head node decoded this node's munge credential."""

    name: str
    node_type: str  # HeadNode | ComputeNode | LoginNode
    instance_id: str
    daemons: list[str]
    probe: dict | None = None
    error: str | None = None
    host_time_before: float | None = None
    host_time_after: float | None = None
    head_decode: dict | None = None  # {"ok", "detail"} of unmunge on the head node of this node's credential


@dataclasses.dataclass
class ClusterFacts:
    """Everything the checks look at, for one cluster at one time."""

    cluster: str
    time: str
    nodes: list[NodeFacts]
    node_failures: list[NodeFailure] = dataclasses.field(default_factory=list)
    accounting: bool = False  # Database or ExternalSlurmdbd configured
    slurmrestd_url: str | None = None
    resume_timeout: float = 1800.0  # Slurm's ResumeTimeout on this cluster (seconds)
    clustermgtd_interval: float = 60.0  # seconds between the cluster manager's loops
