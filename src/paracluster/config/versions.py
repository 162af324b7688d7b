"""What changed in the config format across ParallelCluster 3.0-3.16: accepted values and what loads with a warning.

Sources: ParallelCluster's schema at each 3.x tag up to 3.12, then the aws-parallelcluster 3.13.0, 3.14.0, 3.15.0 and
3.16.1 wheels (schemas/, config/, validators/, constants.py), compared release by release.
A key or value that a release removed still loads, with a WARNING naming that release, so configs written for older
releases work.
"""

from __future__ import annotations

# Image/Os values accepted by some 3.x release. ubuntu1804 left in 3.7, centos7 in 3.10, ubuntu2004 in 3.14 and
# alinux2 in 3.16; ubuntu2404 arrived in 3.13.
SUPPORTED_OSES = (
    "alinux2",
    "alinux2023",
    "ubuntu2004",
    "ubuntu2204",
    "ubuntu2404",
    "rhel8",
    "rocky8",
    "rhel9",
    "rocky9",
    "centos7",
    "ubuntu1804",
)

# The Image/Os values of ParallelCluster 3.16 itself (its SUPPORTED_OSES), for new configs (`configure`).
CURRENT_OSES = ("alinux2023", "ubuntu2204", "ubuntu2404", "rhel8", "rocky8", "rhel9", "rocky9")

DEPRECATED_OS = {
    "alinux2": "alinux2 (Amazon Linux 2) was removed in ParallelCluster 3.16; use alinux2023",
    "ubuntu2004": "ubuntu2004 was removed in ParallelCluster 3.14; use ubuntu2204 or ubuntu2404",
    "centos7": "centos7 was removed in ParallelCluster 3.10; use rocky8, rhel8 or alinux2023",
    "ubuntu1804": "ubuntu1804 was removed in ParallelCluster 3.7; use ubuntu2204 or ubuntu2404",
}

# 3.14 added the prioritized strategies for EC2 Fleet launches.
ALLOCATION_STRATEGIES = (
    "lowest-price",
    "capacity-optimized",
    "price-capacity-optimized",
    "prioritized",
    "capacity-optimized-prioritized",
)

DEPRECATED_SCHEDULERS = {
    "awsbatch": "AWS Batch (Scheduler awsbatch) was removed in ParallelCluster 3.16; use Scheduler slurm",
}

LOGIN_SSH_KEY_NAME_REMOVED = (
    "was removed in ParallelCluster 3.15 and is ignored: login nodes use the key pair of HeadNode/Ssh/KeyName"
)
ROOT_VOLUME_KMS_KEY_REMOVED = "was removed in ParallelCluster 3.1.1 and is ignored; remove it"
BATCH_NETWORKING_REMOVED = "was removed in ParallelCluster 3.0.1 and is ignored for AWS Batch queues; remove it"
AWS_BATCH_CLI_PACKAGE_REMOVED = "was removed in ParallelCluster 3.16 together with AWS Batch and is ignored; remove it"
CINC_INSTALLER_URL_REMOVED = (
    "was removed in ParallelCluster 3.16 and is ignored; set DevSettings/CliAttributeOverrides to "
    '{"cinc_installer_url": "..."} instead'
)

# ParallelCluster's bootstrap timeout default: 1800 s up to 3.12, 2100 s from 3.13.
NODE_BOOTSTRAP_TIMEOUT = 2100
# 3.16: seconds to wait for EC2 to describe instances just launched by CreateFleet (eventual consistency).
COMPUTE_INSTANCE_INFO_TIMEOUT = 90
