"""Validators that need AWS: run before anything is created, with ParallelCluster's validator type names and levels.

They use the framework of the pure validators (`paracluster.config.validate.core`), registered under their own
kind, "aws": the same Finding form (a level, ParallelCluster's validator class name, which `--suppress-validators
type:Name` matches, and a message starting with the YAML path and line), and a validator that raises becomes an
ERROR while the others still run. They run concurrently, since each mostly waits for AWS; their findings keep the
registration order.
"""

from __future__ import annotations

import functools
import importlib
from concurrent.futures import ThreadPoolExecutor

from paracluster.config.validate.core import REGISTRY, Finding, Report, parse_suppressions

KIND = "aws"
MODULES = ("network", "amis", "access", "storage")
CONCURRENCY = 8


class AwsContext:
    """What the AWS validators read: the config, instance type facts, and the request's cached AWS lookups."""

    kind = KIND

    def __init__(self, config, catalog, lookups, cluster_name: str | None = None):
        self.config = config
        self.catalog = catalog
        self.lookups = lookups
        self.session = lookups.session
        self.region = lookups.session.region
        self.cluster_name = cluster_name

    def instance_type(self, name: str | None):
        return self.catalog.get(name) if name else None


@functools.cache
def _load() -> None:
    # Importing a module registers its validators.
    for name in MODULES:
        importlib.import_module(f"paracluster.providers.aws.validate.{name}")


def run_aws_validators(context: AwsContext, suppress=()) -> list[Finding]:
    """Every AWS validator that `suppress` leaves; findings in registration order."""
    _load()
    suppress_all, suppressed = parse_suppressions(suppress)
    if suppress_all:
        return []
    entries = [entry for entry in REGISTRY if entry.kind == KIND and entry.type not in suppressed]
    with ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="aws-validator") as pool:
        reports = list(pool.map(lambda entry: _run(entry, context), entries))
    return [finding for report in reports for finding in report.findings]


def _run(entry, context: AwsContext) -> Report:
    report = Report(entry.type)
    try:
        entry.function(context, report)
    except Exception as err:  # noqa: BLE001 - one failed check must not hide the others' findings
        report.error(f"failed to run the {entry.type} check: {err}")
    return report
