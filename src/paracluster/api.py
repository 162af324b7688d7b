"""The public facade: the operations the CLI (and later the REST API) offers, in ParallelCluster's terms."""

from __future__ import annotations

import re

from paracluster.errors import (
    BadRequestError,
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
) -> dict:
    """Validate the configuration and create the cluster; with `dryrun`, stop after validation."""
    if not _CLUSTER_NAME_PARAMETER.match(cluster_name):
        raise BadRequestError(
            f"--cluster-name '{cluster_name}' is invalid; use at least two letters, digits or hyphens, "
            "starting with a letter"
        )
    _, messages = _validate(
        "cluster", config_path, cluster_name, region, suppress_validators, validation_failure_level
    )
    if dryrun:
        raise DryRunSucceeded(messages)
    raise NotAvailableError(
        f"failed to create cluster '{cluster_name}': no provider can create clusters in this version yet "
        "(the local provider comes next); validate the configuration with --dryrun true"
    )


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
