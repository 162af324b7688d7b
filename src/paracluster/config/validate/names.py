"""Validators of names and counts: cluster, queue, compute resource, pool and storage names; limits per cluster."""

from __future__ import annotations

import re
from collections import Counter

from paracluster.config.validate.core import Context, Report, validator

CLUSTER_NAME_MAX_LENGTH = 60
CLUSTER_NAME_MAX_LENGTH_WITH_ACCOUNTING = 40  # slurmdbd derives database names from it
_CLUSTER_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]*$")
_RESOURCE_NAME = re.compile(r"^[a-z][a-z0-9\-]*$")
RESOURCE_NAME_MAX_LENGTH = 25
_IMAGE_ID = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{0,127}$")
_TAG_VALUE = re.compile(r"^([\w\+\-\=\.\_\:\@/]{0,256})$")
STORAGE_NAME_MAX_LENGTH = 30

MAX_QUEUES = 50
MAX_COMPUTE_RESOURCES_PER_QUEUE = 50
MAX_COMPUTE_RESOURCES_PER_CLUSTER = 50
MAX_LOGIN_NODE_POOLS = 10  # ParallelCluster 3.13


def check_cluster_name(name: str, *, accounting: bool = False) -> str | None:
    """Return why a cluster name is invalid, or None."""
    limit = CLUSTER_NAME_MAX_LENGTH_WITH_ACCOUNTING if accounting else CLUSTER_NAME_MAX_LENGTH
    if not _CLUSTER_NAME.match(name) or len(name) > limit:
        why = " (Slurm accounting is enabled)" if accounting else ""
        return (
            f"'{name}' is invalid; a cluster name starts with a letter, has only letters, digits and hyphens, "
            f"and has at most {limit} characters{why}"
        )
    return None


def check_image_id(image_id: str) -> str | None:
    if not _IMAGE_ID.match(image_id):
        return (
            f"'{image_id}' is invalid; an image id starts with a letter, has only letters, digits and hyphens, "
            "and has at most 128 characters"
        )
    return None


def resource_name_problems(name: str) -> list[str]:
    """Why a queue, compute resource or login pool name is invalid (each rule on its own, as in ParallelCluster)."""
    problems = []
    if not _RESOURCE_NAME.match(name):
        problems.append(f"'{name}' is invalid; use lowercase letters, digits and hyphens, starting with a letter")
    if len(name) > RESOURCE_NAME_MAX_LENGTH:
        problems.append(f"'{name}' is too long; use at most {RESOURCE_NAME_MAX_LENGTH} characters")
    if name == "default":
        problems.append("'default' is reserved; choose another name")
    return problems


@validator("ClusterNameValidator")
def cluster_name(context: Context, report: Report) -> None:
    if context.cluster_name is None:
        return
    slurm = context.config.scheduling.slurm_settings
    # ParallelCluster 3.16 applies the shorter limit to an external slurmdbd as well.
    accounting = slurm.database.present or slurm.external_slurmdbd.present
    problem = check_cluster_name(context.cluster_name, accounting=accounting)
    if problem:
        report.error(f"--cluster-name {problem}")


@validator("NameValidator")
def resource_names(context: Context, report: Report) -> None:
    config = context.config
    named = []
    for queue in config.scheduling.slurm_queues + config.scheduling.aws_batch_queues:
        named.append(queue)
        named.extend(queue.compute_resources)
    named.extend(config.login_nodes.pools)
    for node in named:
        for problem in resource_name_problems(node.name):
            report.error(f"{node.where('Name')}: {problem}")


@validator("MaxCountValidator")
def max_counts(context: Context, report: Report) -> None:
    scheduling = context.config.scheduling
    queues = scheduling.slurm_queues
    if len(queues) > MAX_QUEUES:
        report.error(
            f"{scheduling.where('SlurmQueues')}: has {len(queues)} queues; a cluster can have at most {MAX_QUEUES}"
        )
    total = 0
    for queue in queues:
        count = len(queue.compute_resources)
        total += count
        if count > MAX_COMPUTE_RESOURCES_PER_QUEUE:
            report.error(
                f"{queue.where('ComputeResources')}: queue '{queue.name}' has {count} compute resources; "
                f"a queue can have at most {MAX_COMPUTE_RESOURCES_PER_QUEUE}"
            )
    if total > MAX_COMPUTE_RESOURCES_PER_CLUSTER:
        report.error(
            f"{scheduling.where('SlurmQueues')}: the queues have {total} compute resources in all; "
            f"a cluster can have at most {MAX_COMPUTE_RESOURCES_PER_CLUSTER}"
        )
    login_nodes = context.config.login_nodes
    if len(login_nodes.pools) > MAX_LOGIN_NODE_POOLS:
        report.error(
            f"{login_nodes.where('Pools')}: has {len(login_nodes.pools)} login node pools; "
            f"a cluster can have at most {MAX_LOGIN_NODE_POOLS}"
        )


def _report_duplicates(report: Report, sites: list, what: str, scope: str = "") -> None:
    """One finding per list, as in ParallelCluster, at the first repeated value; `sites` are (node, key) pairs."""
    values = [node.get(key) for node, key in sites]
    counts = Counter(value for value in values if value is not None)
    repeated = [value for value in dict.fromkeys(values) if value is not None and counts[value] > 1]
    if not repeated:
        return
    node, key = sites[values.index(repeated[0])]
    if len(repeated) == 1:
        value = repeated[0]
        report.error(f"{node.where(key)}: the {what} '{value}' is used {counts[value]} times{scope}; make each unique")
    else:
        listed = ", ".join(f"'{value}' ({counts[value]} times)" for value in repeated)
        report.error(f"{node.where(key)}: the {what}s {listed} are repeated{scope}; make each unique")


@validator("DuplicateNameValidator")
def duplicate_names(context: Context, report: Report) -> None:
    config = context.config
    queues = config.scheduling.slurm_queues + config.scheduling.aws_batch_queues
    _report_duplicates(report, [(queue, "Name") for queue in queues], "queue name")
    for queue in queues:
        sites = [(resource, "Name") for resource in queue.compute_resources]
        _report_duplicates(report, sites, "compute resource name", f" in queue '{queue.name}'")
    _report_duplicates(report, [(storage, "Name") for storage in config.shared_storage], "shared storage name")
    _report_duplicates(report, [(pool, "Name") for pool in config.login_nodes.pools], "login node pool name")
    existing = [site for site in map(_existing_storage_id, config.shared_storage) if site[0].get(site[1])]
    _report_duplicates(report, existing, "existing file system or volume id")


def _existing_storage_id(storage) -> tuple:
    """(settings section, key) of the id of the existing file system, volume or cache a SharedStorage item mounts."""
    section, key = {
        "Ebs": ("EbsSettings", "VolumeId"),
        "Efs": ("EfsSettings", "FileSystemId"),
        "FsxLustre": ("FsxLustreSettings", "FileSystemId"),
        "FsxOpenZfs": ("FsxOpenZfsSettings", "VolumeId"),
        "FsxOntap": ("FsxOntapSettings", "VolumeId"),
        "FileCache": ("FileCacheSettings", "FileCacheId"),
    }[storage.storage_type]
    return storage.get(section), key


@validator("SharedStorageNameValidator")
def shared_storage_names(context: Context, report: Report) -> None:
    named = []
    for storage in context.config.shared_storage:
        named.append(storage)
        # ParallelCluster applies the same rules to the names of FSx for Lustre data repository associations.
        named.extend(storage.fsx_lustre_settings.data_repository_associations)
    for node in named:
        name = node.name
        where = node.where("Name")
        if not _TAG_VALUE.match(name):
            report.error(f"{where}: '{name}' is invalid; use only letters, digits and + - = . _ : @ / (no spaces)")
        if len(name) > STORAGE_NAME_MAX_LENGTH:
            report.error(f"{where}: '{name}' is too long; use at most {STORAGE_NAME_MAX_LENGTH} characters")
        if name == "default":
            report.error(f"{where}: 'default' is reserved; choose another name")
