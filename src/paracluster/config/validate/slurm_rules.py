"""Validators of Slurm settings: custom slurm.conf settings, node priorities, accounting database and slurmdbd."""

from __future__ import annotations

# typing.TYPE_CHECKING without importing typing, which costs a CLI process about 10 ms.
TYPE_CHECKING = False
from urllib.parse import urlparse

from paracluster.config.schema.walk import join_path, key_line
from paracluster.config.validate.core import Context, Report, validator

if TYPE_CHECKING:
    from paracluster.config.model import ConfigNode

# slurm.conf keys ParaCluster writes itself, per level; Slurm keys are case-insensitive, so these are lowercase.
DENIED_CLUSTER_SETTINGS = frozenset(
    "epilog grestypes launchparameters prolog reconfigflags resumefailprogram resumeprogram resumetimeout "
    "slurmctldhost slurmctldlogfile slurmctldparameters slurmdlogfile slurmuser suspendexcnodes suspendprogram "
    "suspendtime taskplugin treewidth".split()
)
# Denied only with SlurmSettings/Database, which makes ParaCluster configure accounting.
DENIED_ACCOUNTING_SETTINGS = frozenset(
    "accountingstoragetype accountingstoragehost accountingstorageport accountingstorageuser jobacctgathertype".split()
)
DENIED_QUEUE_SETTINGS = frozenset("nodes partitionname resumetimeout state suspendtime oversubscribe".split())
# ParallelCluster 3.15 let compute resources set Features (ParaCluster adds its own features to them).
DENIED_COMPUTE_RESOURCE_SETTINGS = frozenset("cpus gres nodeaddr nodehostname nodename state weight".split())
RESERVED_NODE_NAME_PARTS = ("-st-", "-dy-")  # how ParaCluster names its static and dynamic nodes
MAX_NODE_PRIORITY = 2**32 - 1
DEFAULT_DATABASE_PORT = 3306


def item_where(node: ConfigNode, key: str, index: int) -> str:
    """The YAML path and line of item `index` of the list `key` in `node`: `A/Key[2] (line 14)`."""
    items = node.raw.get(key)
    line = key_line(items, index, None) if items is not None else None
    path = f"{join_path(node.path, key)}[{index}]"
    return f"{path} (line {line})" if line else path


def _denied(settings: dict, deny_list: frozenset) -> list[str]:
    return sorted(key for key in settings if str(key).lower() in deny_list)


def _keys(keys: list[str]) -> tuple[str, str]:
    """The keys as a phrase, and the pronoun that refers to them."""
    if len(keys) == 1:
        return keys[0], "it"
    return ", ".join(keys[:-1]) + " and " + keys[-1], "them"


@validator("CustomSlurmSettingsValidator")
def custom_slurm_settings(context: Context, report: Report) -> None:
    settings = context.config.scheduling.slurm_settings
    accounting = settings.database.present
    for index, item in enumerate(settings.custom_slurm_settings):
        # An item with several keys is a custom NodeName, NodeSet or PartitionName line, which Slurm owns entirely.
        if len(item) > 1:
            continue
        where = item_where(settings, "CustomSlurmSettings", index)
        for key in _denied(item, DENIED_CLUSTER_SETTINGS):
            report.error(f"{where}: {key} is managed by ParaCluster and cannot be overridden; remove it")
        for key in _denied(item, DENIED_ACCOUNTING_SETTINGS) if accounting else ():
            report.error(
                f"{where}: {key} is set by ParaCluster for Slurm accounting because SlurmSettings/Database "
                "is configured; remove it"
            )
    for queue in context.config.scheduling.slurm_queues:
        denied = _denied(queue.custom_slurm_settings, DENIED_QUEUE_SETTINGS)
        if denied:
            keys, pronoun = _keys(denied)
            report.error(
                f"{queue.where('CustomSlurmSettings')}: ParaCluster writes {keys} in the queue's Slurm partition "
                f"line itself; remove {pronoun}"
            )
        for resource in queue.compute_resources:
            denied = _denied(resource.custom_slurm_settings, DENIED_COMPUTE_RESOURCE_SETTINGS)
            if denied:
                keys, pronoun = _keys(denied)
                report.error(
                    f"{resource.where('CustomSlurmSettings')}: ParaCluster writes {keys} in the compute resource's "
                    f"Slurm node line itself; remove {pronoun}"
                )


@validator("CustomSlurmNodeNamesValidator")
def custom_slurm_node_names(context: Context, report: Report) -> None:
    settings = context.config.scheduling.slurm_settings
    for index, item in enumerate(settings.custom_slurm_settings):
        for key, value in item.items():
            if str(key).lower() != "nodename":
                continue
            reserved = [part for part in RESERVED_NODE_NAME_PARTS if part in str(value)]
            if reserved:
                report.error(
                    f"{item_where(settings, 'CustomSlurmSettings', index)}: the custom node name '{value}' contains "
                    f"'{reserved[0]}', which ParaCluster reserves for the nodes it manages; rename these nodes"
                )


@validator("CustomSlurmSettingsIncludeFileOnlyValidator")
def custom_slurm_settings_include_file(context: Context, report: Report) -> None:
    settings = context.config.scheduling.slurm_settings
    if settings.custom_slurm_settings_include_file and settings.custom_slurm_settings:
        report.error(
            f"{settings.where('CustomSlurmSettingsIncludeFile')}: cannot be combined with "
            "SlurmSettings/CustomSlurmSettings; put all custom settings in one of them"
        )


@validator("SlurmNodePrioritiesWarningValidator")
def slurm_node_priorities(context: Context, report: Report) -> None:
    for queue in context.config.scheduling.slurm_queues:
        resources = queue.compute_resources
        static = {cr.name: cr.static_node_priority for cr in resources if cr.min_count > 0}
        dynamic = {cr.name: cr.dynamic_node_priority for cr in resources if cr.max_count > cr.min_count}
        highest_static = max(static.values(), default=0)
        lowest_dynamic = min(dynamic.values(), default=MAX_NODE_PRIORITY + 1)
        bad_static = {name: value for name, value in static.items() if value >= lowest_dynamic}
        bad_dynamic = {name: value for name, value in dynamic.items() if value <= highest_static}
        # Each bad static priority implies a bad dynamic one and the reverse, so both lists are non-empty here.
        if bad_static or bad_dynamic:
            report.warning(
                f"{queue.where('ComputeResources')}: in queue '{queue.name}', Slurm may start dynamic nodes before "
                f"idle static ones because static priorities {_priorities(bad_static)} are not below the lowest "
                f"dynamic priority ({lowest_dynamic}) and dynamic priorities {_priorities(bad_dynamic)} are not "
                f"above the highest static priority ({highest_static}); give static nodes lower values"
            )


def _priorities(by_name: dict[str, int]) -> str:
    return ", ".join(f"{name}={value}" for name, value in by_name.items())


@validator("ExternalSlurmdbdVsDatabaseIncompatibility")
def external_slurmdbd_vs_database(context: Context, report: Report) -> None:
    settings = context.config.scheduling.slurm_settings
    if settings.database.present and settings.external_slurmdbd.present:
        report.error(
            f"{settings.where('ExternalSlurmdbd')}: cannot be used together with SlurmSettings/Database; "
            "keep only one of them"
        )


@validator("ExternalSlurmdbdRequiresCustomMungeKey")
def external_slurmdbd_munge_key(context: Context, report: Report) -> None:
    settings = context.config.scheduling.slurm_settings
    if settings.external_slurmdbd.present and not settings.is_set("MungeKeySecretArn"):
        report.error(
            f"{settings.where('ExternalSlurmdbd')}: an external slurmdbd needs the cluster to share its munge key; "
            "set SlurmSettings/MungeKeySecretArn"
        )


@validator("ExternalSlurmdbdTrafficNotEncrypted")
def external_slurmdbd_traffic(context: Context, report: Report) -> None:
    settings = context.config.scheduling.slurm_settings
    if settings.external_slurmdbd.present:
        report.warning(
            f"{settings.where('ExternalSlurmdbd')}: traffic to the external slurmdbd is not encrypted; "
            "keep the cluster and the slurmdbd host in a trusted network"
        )


@validator("DatabaseUriValidator")
def database_uri(context: Context, report: Report) -> None:
    database = context.config.scheduling.slurm_settings.database
    uri = database.uri
    if not uri:
        return
    where = database.where("Uri")
    if uri.startswith("/"):
        report.error(f"{where}: '{uri}' starts with '/'; give the database as host or host:port")
        return
    try:
        # Parsed as ParallelCluster does: `host:3306` first reads as scheme `host`, so it is parsed again as `//...`.
        parsed = urlparse(uri)
        if not parsed.netloc:
            parsed = urlparse("//" + uri)
    except ValueError as err:
        report.error(f"{where}: '{uri}' is not a valid address ({err}); give the database as host or host:port")
        return
    if parsed.scheme:
        report.error(f"{where}: remove the scheme '{parsed.scheme}://'; give the database as host or host:port")
        return
    if not parsed.netloc:
        report.error(f"{where}: '{uri}' names no host; give the database as host or host:port")
        return
    try:
        port = parsed.port
    except ValueError as err:
        report.error(f"{where}: '{uri}' has an invalid port ({err}); use a port number from 1 to 65535")
        return
    if not port:
        report.info(f"{where}: '{uri}' names no port, so the MySQL default {DEFAULT_DATABASE_PORT} is used")
