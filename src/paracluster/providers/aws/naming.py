"""Names and tags of what the aws provider makes: tag keys, resource names and where cluster files live in S3.

Instances carry ParallelCluster's tags (`parallelcluster:cluster-name`, `node-type`, `queue-name`,
`compute-resource-name`), so the head node's IAM conditions and ParallelCluster-minded tooling keep working; the
stack carries ParaCluster's own cluster tag, which is how list-clusters tells ParaCluster's stacks from others.
"""

from __future__ import annotations

import hashlib

TAG_CLUSTER = "parallelcluster:cluster-name"
TAG_NODE_TYPE = "parallelcluster:node-type"
TAG_QUEUE = "parallelcluster:queue-name"
TAG_COMPUTE_RESOURCE = "parallelcluster:compute-resource-name"
TAG_LOGIN_POOL = "parallelcluster:login-nodes-pool"
TAG_PARACLUSTER_CLUSTER = "paracluster:cluster-name"  # on the stack: a ParaCluster cluster
TAG_PARACLUSTER_VERSION = "paracluster:version"
TAG_STORAGE_NAME = "parallelcluster:shared-storage-name"

# ParallelCluster's node-type tag values, and the node types of describe-cluster-instances they stand for.
NODE_TYPE_TAGS = {"HeadNode": "HeadNode", "ComputeNode": "Compute", "LoginNode": "LoginNode"}
NODE_TYPES_BY_TAG = {value: key for key, value in NODE_TYPE_TAGS.items()}

FLEET_ITEM_ID = "COMPUTE_FLEET"  # the status item of the cluster's table (ParallelCluster's key)
INSTANCE_ID_INDEX = "InstanceId"  # the table's index from instance id to Slurm node name
CONFIG_FILE = "cluster-config.yaml"
TEMPLATE_FILE = "cluster-template.json"


def table_name(cluster: str) -> str:
    """The cluster's DynamoDB table: compute fleet status and node names (ParallelCluster's name)."""
    return f"parallelcluster-{cluster}"


def log_group_name(cluster: str, stamp: str) -> str:
    """A retained log group outlives its cluster, so the name carries the create time (as ParallelCluster's)."""
    return f"/aws/parallelcluster/{cluster}-{stamp}"


def bucket_name(account: str, region: str) -> str:
    """The per-account, per-region bucket that holds every cluster's template, config and node assets."""
    digest = hashlib.sha256(f"{account}/{region}".encode()).hexdigest()[:12]
    return f"paracluster-{digest}-{region}"


def cluster_prefix(cluster: str) -> str:
    return f"paracluster/clusters/{cluster}"


def launch_template_name(cluster: str, *parts: str) -> str:
    return "-".join((cluster, *parts))


def logical_id(*parts: str) -> str:
    """A CloudFormation logical id from names with hyphens: `queue-1`, `cr` -> `Queue1Cr`."""
    words = []
    for part in parts:
        words += [word[:1].upper() + word[1:] for word in str(part).replace("_", "-").split("-") if word]
    return "".join(words)
