"""The public facade: the operations the CLI (and later the REST API) offers, in ParallelCluster's terms."""

from __future__ import annotations

import re

from paracluster.errors import (
    BadRequestError,
    ClusterOperationFailed,
    ConfigValidationError,
    DryRunSucceeded,
    NotAvailableError,
)


# The request-level pattern of a cluster name (at least two characters); ClusterNameValidator then checks length.
_CLUSTER_NAME_PARAMETER = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]+$")


def _validate(kind: str, config_path: str, name: str, region: str | None, suppress, failure_level: str):
    """Validate a config file; raise ConfigValidationError when findings block, return the messages otherwise."""
    from paracluster.config.validate import validate_config

    outcome = validate_config(
        config_path, kind=kind, cluster_name=name if kind == "cluster" else None, suppress=suppress,
        failure_level=failure_level, region=region,
    )
    messages = [finding.to_json() for finding in outcome.findings]
    if outcome.blocking:
        raise ConfigValidationError(f"Invalid {kind} configuration.", messages)
    config_region = outcome.config.region if outcome.config is not None else None
    if region and config_region and region != config_region:
        raise BadRequestError(
            f"--region {region} conflicts with Region: {config_region} in {config_path}; "
            "drop one of them or make them equal"
        )
    return outcome, messages


def create_cluster(
    *,
    cluster_name: str,
    config_path: str,
    region: str | None = None,
    suppress_validators: tuple[str, ...] = (),
    validation_failure_level: str = "ERROR",
    dryrun: bool = False,
    rollback_on_failure: bool = True,
    wait: bool = False,
    provider_name: str | None = None,
    progress=None,
) -> dict:
    """Validate the configuration and create the cluster; with `dryrun`, stop after validation.

    With `wait`, return once the create ended (describe-cluster's answer), calling `progress(text)` on each change.
    """
    if not _CLUSTER_NAME_PARAMETER.match(cluster_name):
        raise BadRequestError(
            f"--cluster-name '{cluster_name}' is invalid; use at least two letters, digits or hyphens, "
            "starting with a letter"
        )
    outcome, messages = _validate(
        "cluster", config_path, cluster_name, region, suppress_validators, validation_failure_level
    )
    if dryrun:
        raise DryRunSucceeded(messages)
    provider = _provider(provider_name)
    provider.check_config(outcome.config)
    with open(config_path, encoding="utf-8") as source:
        config_text = source.read()
    cluster = provider.create_cluster(cluster_name, config_text, region or outcome.config.region, rollback_on_failure)
    if wait:
        return _wait(provider, cluster_name, "CREATE", progress)
    body = {"cluster": cluster}
    if messages:
        body["validationMessages"] = messages
    return body


def build_image(
    *,
    image_id: str,
    config_path: str,
    region: str | None = None,
    suppress_validators: tuple[str, ...] = (),
    validation_failure_level: str = "ERROR",
    dryrun: bool = False,
) -> dict:
    """Validate the image configuration and build the image; with `dryrun`, stop after validation."""
    from paracluster.config.validate.names import check_image_id

    problem = check_image_id(image_id)
    if problem:
        raise BadRequestError(f"--image-id {problem}")
    _, messages = _validate("image", config_path, image_id, region, suppress_validators, validation_failure_level)
    if dryrun:
        raise DryRunSucceeded(messages)
    raise NotAvailableError(
        f"failed to build image '{image_id}': no provider can build images in this version yet; "
        "validate the configuration with --dryrun true"
    )


def _provider(name: str | None):
    from paracluster.providers import get_provider
    from paracluster.settings import load_settings

    settings = load_settings({"provider": name})
    return get_provider(settings.provider, settings)


def _wait(provider, name: str, operation: str, progress) -> dict:
    """Poll describe-cluster until `operation` (CREATE) is no longer in progress."""
    import time

    started, last = time.monotonic(), None
    while True:
        cluster = provider.describe_cluster(name)
        status = cluster["clusterStatus"]
        step = cluster.get("progress") or status
        if progress and step != last:
            progress(f"{name}: {step} ({time.monotonic() - started:.1f}s)")
            last = step
        if not status.endswith("_IN_PROGRESS"):
            break
        time.sleep(0.2)
    if status.endswith("_FAILED"):
        reasons = "; ".join(f["failureReason"] for f in cluster.get("failures", [])) or "no reason recorded"
        raise ClusterOperationFailed(f"failed to {operation.lower()} cluster '{name}': {reasons}", cluster)
    return cluster


def delete_cluster(*, cluster_name: str, wait: bool = False, provider_name: str | None = None, progress=None) -> dict:
    """Delete a cluster and everything it has; with `wait`, return once nothing of it is left."""
    import time

    from paracluster.errors import NotFoundError

    provider = _provider(provider_name)
    cluster = provider.delete_cluster(cluster_name)
    if not wait:
        return {"cluster": cluster}
    started = time.monotonic()
    while True:
        try:
            described = provider.describe_cluster(cluster_name)
        except NotFoundError:
            return {"message": f"Successfully deleted cluster '{cluster_name}'."}
        if described["clusterStatus"] == "DELETE_FAILED":
            reasons = "; ".join(f["failureReason"] for f in described.get("failures", []))
            raise ClusterOperationFailed(f"failed to delete cluster '{cluster_name}': {reasons}", described)
        if progress:
            progress(f"{cluster_name}: DELETE_IN_PROGRESS ({time.monotonic() - started:.1f}s)")
        time.sleep(0.1)


def describe_cluster(*, cluster_name: str, provider_name: str | None = None) -> dict:
    return _provider(provider_name).describe_cluster(cluster_name)


def list_clusters(*, statuses: list[str] | None = None, provider_name: str | None = None) -> dict:
    return _provider(provider_name).list_clusters(statuses)


def describe_cluster_instances(
    *, cluster_name: str, node_type: str | None = None, queue_name: str | None = None, provider_name: str | None = None
) -> dict:
    return _provider(provider_name).describe_cluster_instances(cluster_name, node_type, queue_name)


def ssh_command(*, cluster_name: str, extra_args: list[str], provider_name: str | None = None,
                login_pool: str | None = None) -> list[str]:
    """The ssh command line that opens a shell (or runs extra_args) on the head node as the default user, or on a
    login node through its pool's load balancer."""
    target = _provider(provider_name).ssh_target(cluster_name, login_pool)
    command = ["ssh", "-o", f"UserKnownHostsFile={target['knownHosts']}", "-o", "StrictHostKeyChecking=yes",
               "-o", "LogLevel=ERROR"]
    if target.get("port"):
        command += ["-p", str(target["port"])]
    if target.get("identityFile"):
        command += ["-i", target["identityFile"], "-o", "IdentitiesOnly=yes"]
    return command + [f"{target['user']}@{target['address']}"] + list(extra_args)


def describe_compute_fleet(*, cluster_name: str, provider_name: str | None = None) -> dict:
    return _provider(provider_name).describe_compute_fleet(cluster_name)


def update_compute_fleet(*, cluster_name: str, status: str, provider_name: str | None = None) -> dict:
    """Request the compute fleet to stop or start; the cluster manager carries it out."""
    return _provider(provider_name).update_compute_fleet(cluster_name, status)
