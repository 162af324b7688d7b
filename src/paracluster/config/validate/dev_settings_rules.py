"""Validators of DevSettings: the JSON of Cookbook/ExtraChefAttributes and of the image's CliAttributeOverrides."""

from __future__ import annotations

import json

from paracluster.config.schema.walk import describe
from paracluster.config.validate.core import Context, Report, validator

# ParallelCluster 3.15: node attributes whose values it checks, as (path in the JSON, dotted name for messages).
RECONFIGURE_TIMEOUT = ("cluster", "slurm", "reconfigure_timeout")
READINESS_CHECK_ENABLED = ("cluster", "cluster_readiness_check_enabled")
READINESS_CHECK_IGNORE_FAILURE = ("cluster", "cluster_readiness_check_ignore_failure")
MIN_RECONFIGURE_TIMEOUT = 300  # seconds; the timeout must be above it
READINESS_RISK = (
    "create-cluster and update-cluster can then succeed while some nodes did not finish applying the configuration"
)


def _dig(data: object, path: tuple[str, ...]) -> object:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _flag(value: object) -> bool | None:
    """True or False for a value whose text is true/false in any case (ParallelCluster's test), else None."""
    text = str(value).lower()
    return {"true": True, "false": False}.get(text)


def _check_chef_attributes(cookbook, report: Report) -> None:
    text = cookbook.extra_chef_attributes
    if not text:
        return
    where = cookbook.where("ExtraChefAttributes")
    attrs = json.loads(text)  # the schema already checked that it is JSON
    timeout = _dig(attrs, RECONFIGURE_TIMEOUT)
    name = ".".join(RECONFIGURE_TIMEOUT)
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, int):
            report.error(f"{where}: the attribute {name} must be an integer number of seconds, not {timeout!r}")
        elif timeout <= MIN_RECONFIGURE_TIMEOUT:
            report.error(f"{where}: the attribute {name} is {timeout}; set it above {MIN_RECONFIGURE_TIMEOUT} seconds")
    for path, risky, what in (
        (READINESS_CHECK_ENABLED, False, "disables the cluster readiness check"),
        (READINESS_CHECK_IGNORE_FAILURE, True, "ignores failures of the cluster readiness check"),
    ):
        value = _dig(attrs, path)
        if value is None:
            continue
        flag = _flag(value)
        if flag is None:
            report.error(f"{where}: the attribute {'.'.join(path)} must be true or false, not {value!r}")
        elif flag is risky:
            report.warning(f"{where}: {'.'.join(path)} = {str(value).lower()} {what}; {READINESS_RISK}")


@validator("ExtraChefAttributesValidator")
def cluster_chef_attributes(context: Context, report: Report) -> None:
    _check_chef_attributes(context.config.dev_settings.cookbook, report)


@validator("ExtraChefAttributesValidator", kind="image")
def image_chef_attributes(context: Context, report: Report) -> None:
    _check_chef_attributes(context.config.dev_settings.cookbook, report)


@validator("CliAttributeOverridesValidator", kind="image")
def cli_attribute_overrides(context: Context, report: Report) -> None:
    # ParallelCluster 3.16: build-time overrides such as {"cinc_installer_url": ..., "cinc_version": ...}.
    dev_settings = context.config.dev_settings
    text = dev_settings.cli_attribute_overrides
    if not text:
        return
    where = dev_settings.where("CliAttributeOverrides")
    try:
        value = json.loads(text)
    except ValueError:
        report.error(f"{where}: '{text}' is not valid JSON; write a JSON object such as {{\"cinc_version\": \"18\"}}")
        return
    if not isinstance(value, dict):
        report.error(f"{where}: must be a JSON object of attribute names and values, not {describe(value)}")
