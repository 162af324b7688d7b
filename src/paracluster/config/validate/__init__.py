"""Validate checked configs: schema problems and validator findings in ParallelCluster's levels and names."""

from __future__ import annotations

import json

from paracluster.config.validate.core import Context, Finding, Level, parse_suppressions, run_validators

# Domain modules whose import registers their validators (see core._load_validator_modules).
MODULES = (
    "names",
    "cluster_rules",
    "account_rules",
    "storage_rules",
    "ebs_rules",
    "fsx_rules",
    "slurm_rules",
    "instance_rules",
    "network_rules",
    "action_rules",
    "image_rules",
)

SCHEMA_VALIDATOR = "ConfigSchemaValidator"
IMAGE_SCHEMA_VALIDATOR = "ImageSchemaValidator"


class Outcome:
    """Every finding of one validation run and whether it blocks the request at the given failure level."""

    def __init__(self, failure_level: Level = Level.ERROR):
        self.findings: list[Finding] = []
        self.failure_level = failure_level
        self.schema_ok = True
        self.config = None  # the ConfigNode view when the schema check passed

    @property
    def blocking(self) -> bool:
        return any(finding.level >= self.failure_level for finding in self.findings)


def validate_config(
    path: str | None,
    *,
    kind: str = "cluster",
    cluster_name: str | None = None,
    suppress: tuple[str, ...] = (),
    failure_level: str = "ERROR",
    text: str | None = None,
    region: str | None = None,
    source: str = "<config>",
) -> Outcome:
    """Load a cluster or image config (a file, or `text`) and run the schema check and then every validator.

    Raises ConfigFileError when the file cannot be read or is not YAML; everything else is a finding.
    """
    from paracluster.catalog import default_catalog
    from paracluster.config.load import load_config_file, load_config_text
    from paracluster.config.schema import CLUSTER, IMAGE_CONFIG

    parse_suppressions(suppress)  # reject a malformed suppressor before doing any work
    spec = IMAGE_CONFIG if kind == "image" else CLUSTER
    loaded = load_config_text(spec, text, source) if text is not None else load_config_file(spec, path)
    outcome = Outcome(failure_level=Level[failure_level])
    schema_type = IMAGE_SCHEMA_VALIDATOR if kind == "image" else SCHEMA_VALIDATOR
    outcome.findings = [Finding(Level[p.level], schema_type, str(p)) for p in loaded.problems]
    if loaded.config is None:
        outcome.schema_ok = False
        return outcome
    catalog = default_catalog()
    extra = loaded.config.dev_settings.instance_types_data if kind == "cluster" else None
    if extra:
        try:
            catalog = catalog.with_extra(json.loads(extra))
        except (ValueError, TypeError, AttributeError) as err:
            where = loaded.config.dev_settings.where("InstanceTypesData")
            message = f"{where}: is not a JSON object of DescribeInstanceTypes entries by type name: {err}"
            outcome.findings.append(Finding(Level.ERROR, SCHEMA_VALIDATOR, message))
            return outcome
    outcome.config = loaded.config
    region = region or loaded.config.region
    context = Context(loaded.config, catalog, cluster_name=cluster_name, kind=kind, region=region)
    outcome.findings.extend(run_validators(context, suppress))
    return outcome


__all__ = ["Context", "Finding", "Level", "Outcome", "validate_config", "MODULES"]
