"""The validator framework: levels, findings, the registry of named validators, and running them with suppression."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from enum import IntEnum
# typing.TYPE_CHECKING without importing typing, which costs a CLI process about 10 ms.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from paracluster.catalog import InstanceType, InstanceTypeCatalog
    from paracluster.config.model import ConfigNode


class Level(IntEnum):
    """Finding levels with ParallelCluster's values; a failure level blocks findings at or above it."""

    INFO = 20
    WARNING = 30
    ERROR = 40


class Finding:
    """One validation message; `type` is the ParallelCluster validator class name, used by suppression."""

    __slots__ = ("level", "type", "message")

    def __init__(self, level: Level, validator_type: str, message: str):
        self.level, self.type, self.message = level, validator_type, message

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Finding) and self.to_json() == other.to_json()

    def __repr__(self) -> str:
        return f"Finding({self.level.name} {self.type}: {self.message})"

    def to_json(self) -> dict:
        return {"level": self.level.name, "type": self.type, "message": self.message}


class Report:
    """Collects the findings of one validator; messages should start with the YAML path they are about."""

    def __init__(self, validator_type: str):
        self.type = validator_type
        self.findings: list[Finding] = []

    def add(self, level: Level, message: str) -> None:
        self.findings.append(Finding(level, self.type, message))

    def error(self, message: str) -> None:
        self.add(Level.ERROR, message)

    def warning(self, message: str) -> None:
        self.add(Level.WARNING, message)

    def info(self, message: str) -> None:
        self.add(Level.INFO, message)


class Context:
    """What validators read: the checked config, the cluster name, the region and EC2 instance type facts."""

    def __init__(
        self,
        config: ConfigNode,
        catalog: InstanceTypeCatalog,
        cluster_name: str | None = None,
        kind: str = "cluster",
        region: str | None = None,
    ):
        self.config = config
        self.catalog = catalog
        self.cluster_name = cluster_name
        self.kind = kind  # "cluster" or "image"
        self.region = region  # --region, else the config's Region

    def instance_type(self, name: str | None) -> InstanceType | None:
        """Facts of an instance type, or None when the catalog does not know it (InstanceTypeValidator says so)."""
        if not name:
            return None
        return self.catalog.get(name)


ValidatorFunction = Callable[[Context, Report], None]


class Registered:
    """A validator function with the type name it reports under and the kind of config it checks."""

    __slots__ = ("type", "kind", "function")

    def __init__(self, validator_type: str, kind: str, function: ValidatorFunction):
        self.type, self.kind, self.function = validator_type, kind, function


REGISTRY: list[Registered] = []


def validator(validator_type: str, *, kind: str = "cluster") -> Callable[[ValidatorFunction], ValidatorFunction]:
    """Register a validator function under a ParallelCluster validator class name, for cluster or image configs."""

    def register(function: ValidatorFunction) -> ValidatorFunction:
        REGISTRY.append(Registered(validator_type, kind, function))
        return function

    return register


def parse_suppressions(values: Iterable[str]) -> tuple[bool, frozenset[str]]:
    """Turn `--suppress-validators` values (ALL or type:Name) into (suppress all, suppressed type names)."""
    names = set()
    suppress_all = False
    for value in values:
        if value == "ALL":
            suppress_all = True
        elif value.startswith("type:") and value[5:].isalnum():
            names.add(value[5:])
        else:
            raise ValueError(f"'{value}' is not a valid suppressor; use ALL or type:ValidatorName")
    return suppress_all, frozenset(names)


def run_validators(context: Context, suppress: Iterable[str] = ()) -> list[Finding]:
    """Run every registered validator of the context's kind that is not suppressed; return all findings.

    A validator that raises does not stop the others: its exception becomes an ERROR finding, as in ParallelCluster.
    """
    _load_validator_modules()
    suppress_all, suppressed = parse_suppressions(suppress)
    if suppress_all:
        return []
    findings: list[Finding] = []
    for entry in REGISTRY:
        if entry.kind != context.kind or entry.type in suppressed:
            continue
        report = Report(entry.type)
        try:
            entry.function(context, report)
        except Exception as err:  # noqa: BLE001 - one broken validator must not hide the others' findings
            report.error(f"failed to run the {entry.type} check: {err}")
        findings.extend(report.findings)
    return findings


@functools.cache
def _load_validator_modules() -> None:
    # Importing the domain modules registers their validators; kept lazy so loading a config stays cheap.
    import importlib

    from paracluster.config.validate import MODULES

    for name in MODULES:
        importlib.import_module(f"paracluster.config.validate.{name}")
