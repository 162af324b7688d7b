"""User data of the template's launch templates: what a node is and where its cluster's files are.

Part 1 of the aws provider creates the infrastructure: the user data records the node's identity and inputs in
`/etc/parallelcluster/paracluster-node.env` (and the head node reports to its wait condition); the node agent that
installs and starts Slurm on EC2 comes with part 2. Everything stays far below EC2's 16 KB user data limit.
"""

from __future__ import annotations

from troposphere import Base64, Ref, Sub

from paracluster.providers.aws.naming import CONFIG_FILE
from paracluster.providers.aws.template.context import Builder

_SCRIPT = """#!/bin/bash
# ParaCluster node bootstrap (aws provider, part 1): record what this node is and where its cluster's files are.
# The node agent that configures Slurm, munge, storage and custom actions on EC2 arrives with part 2.
set -eu
umask 022
mkdir -p /etc/parallelcluster
cat > /etc/parallelcluster/paracluster-node.env <<'PARACLUSTER_NODE'
cluster_name=%(cluster)s
region=${AWS::Region}
stack_name=${AWS::StackName}
node_type=%(node_type)s
%(extra)stable_name=${Table}
cluster_config=s3://%(bucket)s/%(prefix)s/%(config)s
PARACLUSTER_NODE
"""

# The head node reports to its wait condition, which the stack waits for (HeadNodeBootstrapTimeout).
_SIGNAL = """curl --silent --show-error --retry 5 -X PUT -H 'Content-Type:' \\
  --data-binary '{"Status": "SUCCESS", "Reason": "head node started", "UniqueId": "HeadNode", "Data": "started"}' \\
  '${WaitHandle}'
"""


def user_data(b: Builder, node_type: str, extra: dict[str, str] | None = None, signal: bool = False):
    """Base64 user data of a node of `node_type` (ParallelCluster's cfn node types: HeadNode, ComputeFleet, ...)."""
    lines = "".join(f"{key}={value}\n" for key, value in (extra or {}).items())
    text = _SCRIPT % {"cluster": b.name, "node_type": node_type, "extra": lines, "bucket": b.facts.bucket,
                      "prefix": b.facts.prefix, "config": CONFIG_FILE}
    variables = {"Table": Ref(b.table)}
    if signal:
        text += _SIGNAL
        variables["WaitHandle"] = Ref(b.wait_handle)
    return Base64(Sub(text, **variables))
