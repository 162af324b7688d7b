"""Official images of the local provider: one per OS that ParallelCluster publishes AMIs for, all this host's root.

ParallelCluster publishes an AMI per OS and architecture, named `aws-parallelcluster-<version>-<os part>-<arch>-...`
(its list-official-images reads the OS back from that name). Locally every one of them is the host's own root file
system, so a node "of" any OS runs the host's Debian; the ids are fixed per OS and architecture, so configs that name
them keep working across ParaCluster versions. Only the host's architecture can run here.
"""

from __future__ import annotations

import hashlib
import platform

from paracluster.config.versions import CURRENT_OSES
from paracluster.images.records import OfficialImageRecord

# ParallelCluster's OS_TO_IMAGE_NAME_PART_MAP (constants.py); ubuntu2404 as 3.15 added it.
NAME_PARTS = {
    "alinux2": "amzn2-hvm", "alinux2023": "amzn2023-hvm", "ubuntu2004": "ubuntu-2004-lts-hvm",
    "ubuntu2204": "ubuntu-2204-lts-hvm", "ubuntu2404": "ubuntu-2404-lts-hvm", "rhel8": "rhel8-hvm",
    "rocky8": "rocky8-hvm", "rhel9": "rhel9-hvm", "rocky9": "rocky9-hvm",
}
PRIVATE_OSES = ("rocky8", "rocky9")  # ParallelCluster builds no public AMIs of these
ARCHITECTURES = ("x86_64", "arm64")
DESCRIPTION = "this host's root file system (Debian), whatever the OS says"


def host_architecture() -> str:
    """The host's architecture in EC2's words."""
    return {"aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), "x86_64")


def official_ami_id(os_name: str, architecture: str) -> str:
    """The fixed AMI id of an OS's official image (ami- and 17 hex digits)."""
    return "ami-" + hashlib.sha256(f"paracluster-official/{os_name}/{architecture}".encode()).hexdigest()[:17]


def official_images(version: str, os_name: str | None = None,
                    architecture: str | None = None) -> list[OfficialImageRecord]:
    """The official images this host offers (its own architecture only), optionally of one OS or architecture."""
    arch = host_architecture()
    if architecture not in (None, arch):
        return []
    published = [name for name in CURRENT_OSES if name not in PRIVATE_OSES]
    return [OfficialImageRecord(official_ami_id(name, arch), name, arch,
                          f"aws-parallelcluster-{version}-{NAME_PARTS[name]}-{arch}-paracluster-local", version)
            for name in published if os_name in (None, name)]


def find_official(ami_id: str, version: str) -> OfficialImageRecord | None:
    return next((image for image in official_images(version) if image.ami_id == ami_id), None)


def check_filters(os_name: str | None, architecture: str | None) -> str | None:
    """Why list-official-images' filters are invalid (ParallelCluster's wording), or None."""
    problems = []
    if os_name is not None and os_name not in CURRENT_OSES:
        problems.append(f"{os_name} is not one of {list(CURRENT_OSES)}")
    if architecture is not None and architecture not in ARCHITECTURES:
        problems.append(f"{architecture} is not one of {list(ARCHITECTURES)}")
    return "; ".join(problems) or None
