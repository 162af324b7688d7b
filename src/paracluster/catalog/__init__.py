"""Built-in EC2 instance type catalog: the hardware facts configs are validated and clusters are sized against."""

from __future__ import annotations

import functools
import json
from collections import namedtuple
from collections.abc import Iterable, Mapping
from pathlib import Path
# typing.TYPE_CHECKING without importing typing, which costs a CLI process about 10 ms.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from typing import Any

DATA_FILE = Path(__file__).with_name("instance_types.json")


# A namedtuple rather than a dataclass: validation runs in a short CLI process, and importing dataclasses (with
# inspect and ast) costs more than the whole catalog load.
_FIELDS = (
    "name vcpus cores threads_per_core memory_mib architectures gpus gpu_manufacturer gpu_memory_mib accelerators "
    "accelerator_manufacturer efa_supported network_cards network_interfaces instance_store_disks "
    "instance_store_type placement_group_strategies usage_classes burstable"
).split()
_TUPLE_FIELDS = ("architectures", "instance_store_disks", "placement_group_strategies", "usage_classes")


class InstanceType(namedtuple("InstanceType", _FIELDS)):
    """The facts about one EC2 instance type that cluster validation and sizing need (immutable).

    Sizes: memory and GPU memory in MiB, instance store disks in GB (one entry per disk); architectures, placement
    group strategies and usage classes as EC2 names them; manufacturers are None when the type has no such device.
    """

    __slots__ = ()

    @property
    def architecture(self) -> str | None:
        """The node architecture ParallelCluster derives: the first of x86_64 and arm64 the type supports."""
        return next((arch for arch in self.architectures if arch in ("x86_64", "arm64")), None)

    def to_row(self) -> list:
        """This type as a data-file row: the values of ROW_FIELDS, in order."""
        return [list(v) if isinstance(v, tuple) else v for v in (getattr(self, f) for f in ROW_FIELDS)]

    @classmethod
    def from_row(cls, name: str, row: list) -> InstanceType:
        return cls(name, *(tuple(v) if i in _TUPLE_INDEXES else v for i, v in enumerate(row)))


# The data file stores each type as a positional row (not a dict) because that keeps it small and quick to parse;
# the file names its fields so that a data file and a code version that disagree fail loudly instead of shifting.
ROW_FIELDS = tuple(name for name in _FIELDS if name != "name")
_TUPLE_INDEXES = frozenset(i for i, name in enumerate(ROW_FIELDS) if name in _TUPLE_FIELDS)


def _section(entry: Mapping, key: str) -> Mapping:
    value = entry.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{key} must be an object, not {type(value).__name__}")
    return value


def _devices(section: Mapping, key: str) -> tuple[int, str | None, int]:
    """Count, first manufacturer and total memory of a GpuInfo.Gpus / InferenceAcceleratorInfo.Accelerators list."""
    count, manufacturer, memory = 0, None, 0
    for device in section.get(key) or ():
        n = int(device.get("Count", 0))
        count += n
        manufacturer = manufacturer or device.get("Manufacturer")
        memory += n * int(_section(device, "MemoryInfo").get("SizeInMiB", 0))
    return count, manufacturer, memory


def from_describe(entry: Mapping[str, Any]) -> InstanceType:
    """Convert one EC2 DescribeInstanceTypes entry (also the format of DevSettings/InstanceTypesData)."""
    if not isinstance(entry, Mapping):
        raise ValueError(f"instance type entry must be an object, not {type(entry).__name__}")
    name = entry.get("InstanceType")
    if not isinstance(name, str) or not name:
        raise ValueError("instance type entry has no InstanceType name")
    try:
        vcpu, memory = _section(entry, "VCpuInfo"), _section(entry, "MemoryInfo")
        if "DefaultVCpus" not in vcpu:
            raise ValueError("VCpuInfo.DefaultVCpus is missing")
        if "SizeInMiB" not in memory:
            raise ValueError("MemoryInfo.SizeInMiB is missing")
        vcpus = int(vcpu["DefaultVCpus"])
        threads = int(vcpu.get("DefaultThreadsPerCore") or 1)
        gpu_info = _section(entry, "GpuInfo")
        gpus, gpu_manufacturer, gpu_memory = _devices(gpu_info, "Gpus")
        inference = _section(entry, "InferenceAcceleratorInfo")
        accelerators, accelerator_manufacturer, _ = _devices(inference, "Accelerators")
        network = _section(entry, "NetworkInfo")
        storage_disks = _section(entry, "InstanceStorageInfo").get("Disks") or ()
        disks = tuple(int(d.get("SizeInGB", 0)) for d in storage_disks for _ in range(int(d.get("Count", 1))))
        return InstanceType(
            name=name,
            vcpus=vcpus,
            cores=int(vcpu.get("DefaultCores") or max(vcpus // threads, 1)),
            threads_per_core=threads,
            memory_mib=int(memory["SizeInMiB"]),
            architectures=tuple(_section(entry, "ProcessorInfo").get("SupportedArchitectures") or ()),
            gpus=gpus,
            gpu_manufacturer=gpu_manufacturer,
            gpu_memory_mib=int(gpu_info.get("TotalGpuMemoryInMiB") or gpu_memory),
            accelerators=accelerators,
            accelerator_manufacturer=accelerator_manufacturer,
            efa_supported=bool(network.get("EfaSupported", False)),
            # Every instance has at least one network card and interface; EC2 omits nothing here, but users may.
            network_cards=int(network.get("MaximumNetworkCards") or 1),
            network_interfaces=int(network.get("MaximumNetworkInterfaces") or 1),
            instance_store_disks=disks,
            instance_store_type=storage_disks[0].get("Type") if storage_disks else None,
            placement_group_strategies=tuple(_section(entry, "PlacementGroupInfo").get("SupportedStrategies") or ()),
            usage_classes=tuple(entry.get("SupportedUsageClasses") or ()),
            burstable=bool(entry.get("BurstablePerformanceSupported", False)),
        )
    except (TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"instance type {name}: invalid DescribeInstanceTypes entry: {e}") from None


def load_extra_file(path: str | Path) -> dict[str, dict]:
    """Read a JSON file mapping instance type names to DescribeInstanceTypes entries."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"expected an object mapping instance type names to entries, got {type(data).__name__}")
        for name, entry in data.items():
            if not isinstance(entry, dict):
                raise ValueError(f"entry for {name!r} must be an object, not {type(entry).__name__}")
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"failed to read instance types file {path}: {e}") from None
    return data


class InstanceTypeCatalog:
    """Instance types by name: the built-in data plus whatever types a config adds or overrides."""

    def __init__(self, types: Iterable[InstanceType] = (), *, rows: Mapping[str, list] | None = None):
        # Rows are turned into InstanceType objects only when asked for: a config names a handful of the ~1300
        # types, and building them all would cost more than parsing the file.
        self._rows: Mapping[str, list] = rows or {}
        self._types: dict[str, InstanceType] = {t.name: t for t in types}

    @classmethod
    def from_file(cls, path: str | Path) -> InstanceTypeCatalog:
        """Load a data file written by dumps_catalog (the built-in one is DATA_FILE)."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if tuple(data.get("fields", ())) != ROW_FIELDS:
            raise ValueError(f"{path} was written for other fields; regenerate it with tools/gen_instance_catalog.py")
        return cls(rows=data["types"])

    def get(self, name: str) -> InstanceType | None:
        found = self._types.get(name)
        if found is None and name in self._rows:
            found = self._types[name] = InstanceType.from_row(name, self._rows[name])
        return found

    def __getitem__(self, name: str) -> InstanceType:
        found = self.get(name)
        if found is None:
            raise KeyError(name)
        return found

    def __contains__(self, name: object) -> bool:
        return name in self._types or name in self._rows

    def __len__(self) -> int:
        return len(self._rows.keys() | self._types.keys())

    def names(self) -> list[str]:
        return sorted(self._rows.keys() | self._types.keys())

    def with_extra(self, mapping: Mapping[str, Mapping[str, Any]]) -> InstanceTypeCatalog:
        """A new catalog where the given DescribeInstanceTypes entries, keyed by type name, add or replace types."""
        extra = []
        for name, entry in mapping.items():
            if not isinstance(entry, Mapping):
                raise ValueError(f"instance type {name}: entry must be an object, not {type(entry).__name__}")
            # InstanceTypesData is keyed by name, so an entry may leave its own InstanceType out.
            if entry.get("InstanceType", name) != name:
                raise ValueError(f"instance type {name}: entry says InstanceType {entry['InstanceType']!r}")
            extra.append(from_describe({**entry, "InstanceType": name}))
        combined = InstanceTypeCatalog(self._types.values(), rows=self._rows)
        combined._types.update((t.name, t) for t in extra)
        return combined


def dumps_catalog(types: Iterable[InstanceType]) -> str:
    """The data-file text for these types: sorted by name, one type per line so diffs stay readable."""
    ordered = sorted(types, key=lambda t: t.name)
    lines = [f"{json.dumps(t.name)}:{json.dumps(t.to_row(), separators=(',', ':'))}" for t in ordered]
    header = json.dumps({"fields": list(ROW_FIELDS)}, separators=(",", ":"))[:-1]
    return header + ',\n"types":{\n' + ",\n".join(lines) + "\n}}\n"


@functools.lru_cache(maxsize=None)
def default_catalog() -> InstanceTypeCatalog:
    """The built-in catalog, loaded from DATA_FILE on first use."""
    return InstanceTypeCatalog.from_file(DATA_FILE)


def catalog_for_config(config) -> InstanceTypeCatalog:
    """The default catalog plus the types a cluster config adds with DevSettings/InstanceTypesData (JSON)."""
    extra = config.dev_settings.instance_types_data
    catalog = default_catalog()
    return catalog.with_extra(json.loads(extra)) if extra else catalog
