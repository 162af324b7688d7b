"""The AMI each node boots: a CustomAmi, or the newest base image of the config's OS for the node's architecture.

Base images are found with DescribeImages by owner and name, as the OS vendors publish them; ParaCluster installs
what it needs on top (part 2 of the aws provider).
"""

from __future__ import annotations

from dataclasses import dataclass

# Image/Os -> (owner account, name pattern with {arch} in the vendor's spelling). Rocky has no official AMI that
# ParallelCluster supports, so rocky8/rocky9 need a CustomAmi (OsCustomAmiValidator), but the community images are
# still found here for a dry run.
AMAZON, CANONICAL, REDHAT, ROCKY = "137112412989", "099720109477", "309956199498", "792107900819"
BASE_IMAGES = {
    "alinux2023": (AMAZON, "al2023-ami-2023.*-kernel-*-{arch}"),
    "alinux2": (AMAZON, "amzn2-ami-kernel-5.10-hvm-*-{arch}-gp2"),
    "ubuntu2004": (CANONICAL, "ubuntu/images/hvm-ssd/ubuntu-focal-20.04-{deb_arch}-server-*"),
    "ubuntu2204": (CANONICAL, "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-{deb_arch}-server-*"),
    "ubuntu2404": (CANONICAL, "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-{deb_arch}-server-*"),
    "rhel8": (REDHAT, "RHEL-8.*_HVM-*-{arch}-*"),
    "rhel9": (REDHAT, "RHEL-9.*_HVM-*-{arch}-*"),
    "rocky8": (ROCKY, "Rocky-8-EC2-Base-8.*.{arch}"),
    "rocky9": (ROCKY, "Rocky-9-EC2-Base-9.*.{arch}"),
}
_DEBIAN_ARCH = {"x86_64": "amd64", "arm64": "arm64"}


@dataclass(frozen=True)
class NodeImage:
    """The AMI of a group of nodes and what the launch template needs from it."""

    image_id: str
    root_device: str
    architecture: str


def base_image_query(os_name: str, architecture: str) -> dict | None:
    """DescribeImages arguments that find the OS's base images for an architecture (None: no such OS)."""
    if os_name not in BASE_IMAGES:
        return None
    owner, pattern = BASE_IMAGES[os_name]
    name = pattern.format(arch=architecture, deb_arch=_DEBIAN_ARCH.get(architecture, architecture))
    return {
        "Owners": [owner],
        "Filters": [
            {"Name": "name", "Values": [name]},
            {"Name": "architecture", "Values": [architecture]},
            {"Name": "state", "Values": ["available"]},
        ],
    }


def newest(images: list[dict]) -> dict | None:
    return max(images, key=lambda image: str(image.get("CreationDate", "")), default=None)


def node_image(image: dict) -> NodeImage:
    return NodeImage(image["ImageId"], image.get("RootDeviceName") or "/dev/xvda", image.get("Architecture", ""))


def find_base_image(session, os_name: str, architecture: str) -> dict | None:
    """The newest available base image of the OS for the architecture in the session's region."""
    query = base_image_query(os_name, architecture)
    if query is None:
        return None
    found = session.call(f"find the {os_name} base image", "ec2", "describe_images", **query)["Images"]
    return newest(found)


def describe_image(session, image_id: str) -> dict | None:
    """The AMI with this id, or None when it does not exist (or is not visible to the account)."""
    from paracluster.errors import NotFoundError

    try:
        found = session.call(f"describe image {image_id}", "ec2", "describe_images", ImageIds=[image_id])["Images"]
    except NotFoundError:
        return None
    return found[0] if found else None
