"""What changed in the config format across ParallelCluster 3.0-3.16: accepted values and what loads with a warning."""

from __future__ import annotations

# Image/Os values accepted by any 3.x release we load. Values a later release removed still load, with a warning,
# so configs written for older releases keep working.
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
)

DEPRECATED_OS = {
    "alinux2": "alinux2 (Amazon Linux 2) was removed by a later ParallelCluster release; use alinux2023",
    "ubuntu2004": "ubuntu2004 (Ubuntu 20.04) was removed by a later ParallelCluster release; use ubuntu2204",
}

LOGIN_SSH_KEY_NAME_REMOVED = (
    "was removed by a later ParallelCluster release: login nodes use the HeadNode/Ssh/KeyName key pair"
)
