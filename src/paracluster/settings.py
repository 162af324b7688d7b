"""ParaCluster's own settings, apart from the ParallelCluster YAML: a TOML file, then environment variables, then flags.

Every key, its type, default and meaning is in SETTINGS below (and in the README). The file is
`$PARACLUSTER_SETTINGS` if set, else `/etc/paracluster/settings.toml` if it exists. A key `a.b` is written
`[a] b = ...` in the file and `PARACLUSTER_A_B=...` in the environment.
"""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path

from paracluster.errors import BadRequestError

DEFAULT_FILE = Path("/etc/paracluster/settings.toml")


class Setting:
    """One key: its type (str, int, float, bool, dict or list), default and documentation."""

    def __init__(self, kind: type, default: object, doc: str):
        self.kind, self.default, self.doc = kind, default, doc


SETTINGS: dict[str, Setting] = {
    "provider": Setting(str, "local", "provider used when --provider is not given: local or aws"),
    "state_dir": Setting(str, "/var/lib/paracluster", "where the host service keeps clusters, key pairs and buckets"),
    "keep_failed_nodes": Setting(bool, False, "keep nodes whose bootstrap failed running, for debugging"),
    "slurmrestd": Setting(bool, True, "run Slurm's REST API (slurmrestd, JWT auth) on head nodes of new clusters"),
    "account_id": Setting(
        str, "123456789012", "AWS account id that local ARNs carry (Image Builder components): set it to the account "
        "a config's ARNs name"
    ),
    "login_extra_ports": Setting(
        dict, {}, "login pool name -> TCP ports its load balancer also forwards and health-checks, besides 22 (an "
        "IDE server on the login nodes, say)"
    ),
    # Networking of the local provider.
    "local.address_pool": Setting(str, "10.187.0.0/16", "IPv4 range that cluster networks are cut from"),
    "local.cluster_prefix_length": Setting(
        int, 21, "prefix length of one cluster's network: 21 gives 2,045 node addresses per cluster"
    ),
    # Timers of the local provider; the aws provider keeps ParallelCluster's values.
    "local.node_start_timeout": Setting(float, 60.0, "seconds a node may take to start its services"),
    "local.head_node_bootstrap_timeout": Setting(
        float, 120.0, "seconds create-cluster waits for the head node and static nodes (DevSettings timeout caps it)"
    ),
    "local.suspend_timeout": Setting(int, 2, "Slurm SuspendTimeout in seconds (ParallelCluster: 120)"),
    "local.resume_timeout": Setting(int, 60, "Slurm ResumeTimeout in seconds (ParallelCluster: 1800)"),
    "local.resume_timeout_per_node": Setting(
        float, 0.5, "seconds added to ResumeTimeout per dynamic node: a burst of them boots one after another here"
    ),
    "local.scaledown_idletime_seconds": Setting(
        int, -2, "idle seconds before a dynamic node is powered down; -2 uses the config's ScaledownIdletime minutes"
    ),
    "local.power_save_interval": Setting(int, 1, "Slurm power_save_interval in seconds (Slurm default: 10)"),
    "local.clustermgtd_interval": Setting(float, 1.0, "seconds between cluster manager loops (ParallelCluster: 60)"),
    "local.orphan_timeout": Setting(float, 5.0, "seconds before an instance no Slurm node owns is terminated"),
    "local.insufficient_capacity_timeout": Setting(
        float, 30.0, "seconds a compute resource stays out of use after insufficient capacity (ParallelCluster: 600)"
    ),
    "local.completing_timeout": Setting(
        float, 10.0, "seconds a dynamic node may stay COMPLETING with no job running before it is powered down"
    ),
    "local.protected_failure_count": Setting(
        int, 10, "bootstrap failures in a queue before it enters protected mode (ParallelCluster: 10)"
    ),
    "local.instance_metadata_tags": Setting(
        bool, False, "IMDS serves each node's tags under tags/instance (EC2's InstanceMetadataTags; ParallelCluster's "
        "launch templates leave it off)"
    ),
    "local.instance_store_max_gib": Setting(
        float, 4.0, "GiB of instance store disks per local node at most; the catalog's disk sizes are scaled down to it"
    ),
    # Capacity model and fault injection of the local provider (for tests and demos).
    "local.capacity": Setting(dict, {}, "instance type -> the most instances of it that can run at once"),
    "local.inject_launch_failures": Setting(
        dict, {}, "instance type -> number of launches that fail with InsufficientInstanceCapacity first"
    ),
    "local.inject_bootstrap_failures": Setting(dict, {}, "instance type -> number of node bootstraps that fail first"),
}


class Settings:
    """Resolved settings; read a key with `settings["local.suspend_timeout"]` or `settings.state_dir`."""

    def __init__(self, values: dict[str, object], source: str):
        self._values = values
        self.source = source

    def __getitem__(self, key: str) -> object:
        return self._values[key]

    def __getattr__(self, name: str) -> object:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def as_dict(self) -> dict[str, object]:
        return dict(self._values)

    @property
    def state_path(self) -> Path:
        return Path(self._values["state_dir"])


def _coerce(key: str, value: object, origin: str) -> object:
    setting = SETTINGS[key]
    kind = setting.kind
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            lowered = str(value).lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError("not a boolean")
        if kind is dict:
            value = json.loads(value) if isinstance(value, str) else value
            if not isinstance(value, dict):
                raise ValueError("not a table")
            return value
        if isinstance(value, bool) and kind in (int, float):
            raise ValueError("not a number")
        return kind(value)
    except (TypeError, ValueError) as err:
        raise BadRequestError(
            f"{origin}: setting {key} = {value!r} is invalid ({err}); it takes a {kind.__name__}: {setting.doc}"
        ) from None


def _flatten(table: dict, prefix: str = "") -> dict[str, object]:
    flat = {}
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and key not in SETTINGS:
            flat.update(_flatten(value, f"{key}."))
        else:
            flat[key] = value
    return flat


def load_settings(overrides: dict[str, object] | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Resolve settings: defaults, then the settings file, then PARACLUSTER_* variables, then `overrides` (flags)."""
    import tomllib

    environ = os.environ if environ is None else environ
    values = {key: setting.default for key, setting in SETTINGS.items()}
    path = Path(environ["PARACLUSTER_SETTINGS"]) if environ.get("PARACLUSTER_SETTINGS") else DEFAULT_FILE
    source = "defaults"
    if path.exists():
        try:
            table = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise BadRequestError(f"failed to read settings file {path}: {err}") from None
        for key, value in _flatten(table).items():
            if key not in SETTINGS:
                raise BadRequestError(f"{path}: unknown setting '{key}'; see the settings table in the README")
            values[key] = _coerce(key, value, str(path))
        source = str(path)
    elif environ.get("PARACLUSTER_SETTINGS"):
        raise BadRequestError(f"PARACLUSTER_SETTINGS names {path}, which does not exist; create it or unset it")
    for key in SETTINGS:
        variable = "PARACLUSTER_" + key.upper().replace(".", "_")
        if variable in environ:
            values[key] = _coerce(key, environ[variable], variable)
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = _coerce(key, value, f"--{key.replace('_', '-')}")
    _check(values)
    return Settings(values, source)


def _check(values: dict[str, object]) -> None:
    try:
        pool = ipaddress.ip_network(values["local.address_pool"])
    except ValueError as err:
        raise BadRequestError(f"setting local.address_pool is not an IPv4 network: {err}") from None
    prefix = values["local.cluster_prefix_length"]
    if not pool.prefixlen <= prefix <= 28:
        raise BadRequestError(
            f"setting local.cluster_prefix_length {prefix} must be between the pool's {pool.prefixlen} and 28"
        )
    if not (len(values["account_id"]) == 12 and values["account_id"].isdigit()):
        raise BadRequestError(f"setting account_id '{values['account_id']}' is not an AWS account id (12 digits)")
    if values["provider"] not in ("local", "aws"):
        raise BadRequestError(f"setting provider '{values['provider']}' is unknown; use local or aws")
    values["login_extra_ports"] = _login_extra_ports(values["login_extra_ports"])


def _login_extra_ports(table: dict) -> dict[str, list[int]]:
    """{pool: [port, ...]} with every port a TCP port other than 22 (which every pool serves), each once."""
    checked = {}
    for pool, ports in table.items():
        if not isinstance(ports, list):
            raise BadRequestError(f"setting login_extra_ports: pool '{pool}' must list its ports, as "
                                  f'{{"{pool}": [8787]}}')
        try:
            numbers = [int(port) for port in ports if not isinstance(port, bool)]
        except (TypeError, ValueError):
            numbers = []
        if len(numbers) != len(ports) or any(not 1 <= port <= 65535 or port == 22 for port in numbers):
            raise BadRequestError(f"setting login_extra_ports: pool '{pool}' has {ports!r}; list TCP ports from 1 "
                                  "to 65535 other than 22, which every pool serves")
        checked[pool] = list(dict.fromkeys(numbers))
    return checked
