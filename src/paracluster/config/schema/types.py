"""Declarative schema types for ParallelCluster YAML files: scalars, lists and sections with their rules.

The key trees in this package are data built from these types. We do not use pydantic here: building ~100 pydantic
models costs about 0.9 s per process on our machines, beyond the 0.25 s budget of a whole `--dryrun` validation.
The walker that checks data against a tree lives in `paracluster.config.schema.walk`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

# Update policies (ParallelCluster's names), attached to each key for update-cluster's change plan.
UNSUPPORTED = "UNSUPPORTED"
SUPPORTED = "SUPPORTED"
IGNORED = "IGNORED"
COMPUTE_FLEET_STOP = "COMPUTE_FLEET_STOP"
QUEUE_UPDATE_STRATEGY = "QUEUE_UPDATE_STRATEGY"
RESIZE_UPDATE_STRATEGY_ON_REMOVE = "RESIZE_UPDATE_STRATEGY_ON_REMOVE"
COMPUTE_FLEET_STOP_ON_REMOVE = "COMPUTE_FLEET_STOP_ON_REMOVE"
MANAGED_PLACEMENT_GROUP = "MANAGED_PLACEMENT_GROUP"
MANAGED_FSX = "MANAGED_FSX"
SHARED_STORAGE_UPDATE_POLICY = "SHARED_STORAGE_UPDATE_POLICY"
LOGIN_NODES_STOP = "LOGIN_NODES_STOP"
LOGIN_NODES_POOL_STOP = "LOGIN_NODES_POOL_STOP"
LOGIN_NODES_POOLS = "LOGIN_NODES_POOLS"
COMPUTE_AND_LOGIN_NODES_STOP = "COMPUTE_AND_LOGIN_NODES_STOP"
READ_ONLY_RESOURCE_BUCKET = "READ_ONLY_RESOURCE_BUCKET"
AWSBATCH_CE_MAX_RESIZE = "AWSBATCH_CE_MAX_RESIZE"
EXTRA_CHEF_ATTRIBUTES = "EXTRA_CHEF_ATTRIBUTES"
SUPPORTED_UNLESS_ADC = "SUPPORTED_UNLESS_ADC"  # 3.16: supported except in the isolated (ADC) regions

# A default may be a value or a function of the section view it belongs to (ParallelCluster's dynamic defaults,
# e.g. Iops depends on VolumeType).
Default = object
SectionCheck = Callable[[dict], Iterable["str | tuple[str, str]"]]
ValueCheck = Callable[[object], "str | None"]

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def snake_case(key: str) -> str:
    """Turn a PascalCase YAML key into the attribute name used in Python (`SlurmQueues` -> `slurm_queues`)."""
    return _CAMEL_BOUNDARY.sub("_", key).lower()


class Spec:
    """What every key's rule has: required, default, update policy, documentation and deprecation."""

    def __init__(
        self,
        *,
        required: bool = False,
        default: Default = None,
        policy: str = UNSUPPORTED,
        doc: str = "",
        deprecated: str | None = None,
        attr: str | None = None,
    ):
        self.required = required
        self.default = default
        self.policy = policy
        self.doc = doc
        self.deprecated = deprecated  # message: the key still loads, with a warning
        self.attr = attr  # Python attribute name when snake_case(key) reads badly (MinvCpus -> min_vcpus)


class Scalar(Spec):
    """A leaf value: str, int, float, bool, raw (anything) or dict (a free-form mapping)."""

    def __init__(
        self,
        kind: str,
        *,
        choices: Iterable[Any] | None = None,
        pattern: str | None = None,
        pattern_help: str | None = None,
        minimum: float | None = None,
        maximum: float | None = None,
        min_exclusive: bool = False,
        min_len: int | None = None,
        max_len: int | None = None,
        checks: Iterable[ValueCheck] = (),
        deprecated_values: dict[Any, str] | None = None,
        **common: object,
    ):
        super().__init__(**common)
        self.kind = kind
        self.choices = tuple(choices) if choices is not None else None
        self.pattern = pattern
        self._regex: re.Pattern | None = None
        self.pattern_help = pattern_help
        self.minimum = minimum
        self.maximum = maximum
        self.min_exclusive = min_exclusive
        self.min_len = min_len
        self.max_len = max_len
        self.checks = tuple(checks)
        self.deprecated_values = deprecated_values or {}


    @property
    def regex(self) -> re.Pattern | None:
        """The compiled pattern, compiled on first use: most keys are absent from any one config."""
        if self._regex is None and self.pattern:
            self._regex = re.compile(self.pattern)
        return self._regex


class ListOf(Spec):
    """A YAML sequence of scalars or sections; `key` names the item key that update-cluster matches items by."""

    def __init__(
        self,
        item: Scalar | Section,
        *,
        min_len: int | None = None,
        max_len: int | None = None,
        length_help: str | None = None,
        key: str | None = None,
        checks: Iterable[ValueCheck] = (),
        **common: object,
    ):
        super().__init__(**common)
        self.item = item
        self.min_len = min_len
        self.max_len = max_len
        self.length_help = length_help
        self.key = key
        self.checks = tuple(checks)


class Section(Spec):
    """A YAML mapping with a fixed set of keys; `checks` are cross-key rules run when every key is valid."""

    def __init__(
        self,
        title: str,
        fields: dict[str, Spec],
        *,
        checks: Iterable[SectionCheck] = (),
        unknown_hint: str = "remove it (see `paracluster config-schema`)",
        **common: object,
    ):
        super().__init__(**common)
        self.title = title
        self.fields = fields
        self.checks = tuple(checks)
        self.unknown_hint = unknown_hint  # what to do about a key the section does not know (no close match)
        self.attrs = {(spec.attr or snake_case(key)): key for key, spec in fields.items()}

    def extend(self, title: str, fields: dict[str, Spec], **overrides: object) -> Section:
        """Return a new section with this one's keys and checks plus `fields` (later keys win)."""
        merged = {**self.fields, **fields}
        common = {
            "required": self.required,
            "default": self.default,
            "policy": self.policy,
            "doc": self.doc,
            "deprecated": self.deprecated,
            "attr": self.attr,
            "checks": self.checks,
            "unknown_hint": self.unknown_hint,
        }
        common.update(overrides)
        return Section(title, merged, **common)


# Constructors that read like the key tree they build.


def Str(**kwargs: object) -> Scalar:  # noqa: N802 - reads as a type in the key tree
    return Scalar("str", **kwargs)


def Int(**kwargs: object) -> Scalar:  # noqa: N802
    return Scalar("int", **kwargs)


def Float(**kwargs: object) -> Scalar:  # noqa: N802
    return Scalar("float", **kwargs)


def Bool(**kwargs: object) -> Scalar:  # noqa: N802
    return Scalar("bool", **kwargs)


def Raw(**kwargs: object) -> Scalar:  # noqa: N802
    return Scalar("raw", **kwargs)


def Mapping(**kwargs: object) -> Scalar:  # noqa: N802
    return Scalar("dict", **kwargs)


def only_one_of(*keys: str, required: bool = False, message: str) -> SectionCheck:
    """A check that at most one (exactly one if `required`) of `keys` has a non-empty value."""

    def check(data: dict) -> Iterable[str]:
        present = sum(1 for key in keys if data.get(key))
        if present > 1 or (required and present != 1):
            yield message

    return check


def matches(pattern: str) -> Callable[[str], bool]:
    """Return a predicate: does the value match `pattern` at its start (marshmallow's Regexp semantics)?"""
    return lambda value: re.match(pattern, value) is not None  # re caches the compiled pattern
