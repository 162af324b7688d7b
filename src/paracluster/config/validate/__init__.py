"""Validate checked configs: schema problems and validator findings in ParallelCluster's levels and names."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from paracluster.config.validate.core import Context, Finding, Level, parse_suppressions, run_validators

# Domain modules whose import registers their validators (see core._load_validator_modules).
MODULES = (
    "names",
    "cluster_rules",
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


@dataclass
class Outcome:
    """Every finding of one validation run and whether it blocks the request at the given failure level."""

    findings: list[Finding] = field(default_factory=list)
    failure_level: Level = Level.ERROR
    schema_ok: bool = True
    config: object = None  # the ConfigNode view when the schema check passed

    @property
    def blocking(self) -> bool:
        return any(finding.level >= self.failure_level for finding in self.findings)


def validate_config(
    path: str,
    *,
    kind: str = "cluster",
    cluster_name: str | None = None,
    suppress: tuple[str, ...] = (),
    failure_level: str = "ERROR",
) -> Outcome:
    """Load a cluster or image config file and run the schema check and then every validator.

    Raises ConfigFileError when the file cannot be read or is not YAML; everything else is a finding.
    """
    from paracluster.catalog import default_catalog
    from paracluster.config.load import load_cluster_config, load_image_config

    parse_suppressions(suppress)  # reject a malformed suppressor before doing any work
    loaded = (load_image_config if kind == "image" else load_cluster_config)(path)
    outcome = Outcome(failure_level=Level[failure_level])
    outcome.findings = [Finding(Level[p.level], SCHEMA_VALIDATOR, str(p)) for p in loaded.problems]
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
    context = Context(loaded.config, catalog, cluster_name=cluster_name, kind=kind)
    outcome.findings.extend(run_validators(context, suppress))
    return outcome


__all__ = ["Context", "Finding", "Level", "Outcome", "validate_config", "MODULES"]
