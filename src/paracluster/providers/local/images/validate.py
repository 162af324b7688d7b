"""The local provider's image checks, run before anything is made: the AMI ids a config names exist here.

ParallelCluster asks EC2 (InstanceTypeBaseAMICompatibleValidator, AmiOsCompatibleValidator); locally the answer is
the image store: an official image or a built local image. Findings carry ParallelCluster's validator names, so
`--suppress-validators type:Name` works as with pcluster, and messages start with the YAML path.
"""

from __future__ import annotations

from pathlib import Path

from paracluster.config.validate.core import Finding, Level, parse_suppressions
from paracluster.errors import ClusterError
from paracluster.providers.local.images.store import ImageStore, Resolved

BASE_AMI = "InstanceTypeBaseAMICompatibleValidator"
AMI_OS = "AmiOsCompatibleValidator"


def _resolve(store: ImageStore, ami_id: str, where: str) -> tuple[Resolved | None, Finding | None]:
    try:
        return store.resolve(ami_id), None
    except ClusterError as err:
        return None, Finding(Level.ERROR, BASE_AMI, f"{where}: {err}")


def _architecture_finding(resolved: Resolved, instance_type: str | None, catalog, where: str) -> Finding | None:
    info = catalog.get(instance_type) if instance_type else None
    if info is None or resolved.architecture in info.architectures:
        return None
    return Finding(Level.ERROR, BASE_AMI,
                   f"{where}: AMI {resolved.ami_id}'s architecture ({resolved.architecture}) is incompatible with the "
                   f"architecture supported by the instance type {instance_type} chosen "
                   f"({list(info.architectures)}); use either a different AMI or a different instance type")


def _kept(findings: list[Finding], suppress) -> list[Finding]:
    suppress_all, suppressed = parse_suppressions(suppress)
    return [] if suppress_all else [finding for finding in findings if finding.type not in suppressed]


def cluster_findings(state_dir: Path, config, suppress=()) -> list[Finding]:
    """Every CustomAmi of a cluster config: it exists here, is built, and was built for the config's Image/Os."""
    from paracluster.plan.images import custom_ami_sites

    store = ImageStore(state_dir)
    findings = []
    for ami_id, where in custom_ami_sites(config):
        resolved, problem = _resolve(store, ami_id, where)
        if problem is not None:
            findings.append(problem)
        elif resolved.os != config.image.os:
            findings.append(Finding(Level.ERROR, AMI_OS, f"{where}: the OS of node AMI {ami_id} is {resolved.os}, it "
                                                         f"is not compatible with cluster OS {config.image.os}"))
    return _kept(findings, suppress)


def image_findings(state_dir: Path, config, suppress=()) -> list[Finding]:
    """An image config's ParentImage exists here (official or built) and suits Build/InstanceType."""
    from paracluster.catalog import default_catalog

    build = config.build
    where = build.where("ParentImage")
    if build.parent_image.startswith("arn:"):
        finding = Finding(Level.ERROR, BASE_AMI, f"{where}: '{build.parent_image}' is an Image Builder image ARN, which "
                                                 "the local provider does not have; use an AMI id (ami-...)")
        return _kept([finding], suppress)
    resolved, problem = _resolve(ImageStore(state_dir), build.parent_image, where)
    if problem is None:
        problem = _architecture_finding(resolved, build.instance_type, default_catalog(), build.where("InstanceType"))
    return _kept([problem] if problem else [], suppress)
