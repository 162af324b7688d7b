"""What changed in the config format across ParallelCluster 3.0-3.16: accepted values and what loads with a warning.

Sources: ParallelCluster's schema at each 3.x tag up to 3.12, then release notes and pull requests for 3.13-3.16.
A key or value that a release removed still loads, with a WARNING, so configs written for older releases work.
"""

from __future__ import annotations

# Image/Os values accepted by some 3.x release. centos7 left in 3.10, ubuntu1804 in 3.7, ubuntu2004 in 3.14;
# ubuntu2404 arrived in 3.13.
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

DEPRECATED_OS = {
    "alinux2": "alinux2 (Amazon Linux 2) is at its end of support in ParallelCluster; use alinux2023",
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

LOGIN_SSH_KEY_NAME_REMOVED = (
    "was removed in ParallelCluster 3.15 and is ignored: login nodes use the key pair of HeadNode/Ssh/KeyName"
)
ROOT_VOLUME_KMS_KEY_REMOVED = "was removed in ParallelCluster 3.1.1 and is ignored; remove it"
BATCH_NETWORKING_REMOVED = "was removed in ParallelCluster 3.0.1 and is ignored for AWS Batch queues; remove it"
