"""The checks ParallelCluster's converter makes before converting: which sections, what is dropped, what is refused.

Each check raises ConversionError for what cannot be converted, or records a note or warning for what converts
differently or not at all. The triggers are ParallelCluster 3.16's (pcluster3_config_converter); the words are ours.
"""

from __future__ import annotations

from paracluster.convert.context import Context
from paracluster.convert.ini import split_labels
from paracluster.convert.messages import ConversionError

# Keys that ParallelCluster 3 has nothing for, as (section attribute, key): dropped with a warning.
IGNORED = (("vpc", "vpc_id"), ("global", "update_check"), ("aliases", "ssh"), ("cluster", "encrypted_ephemeral"))
# Keys that must be removed before converting: ParallelCluster 3 does not create subnets.
REFUSED = (("vpc", "compute_subnet_cidr"),)
# Cluster-wide keys that land on the head node and on every queue.
AMBIGUOUS = (
    ("cluster", "additional_iam_policies"),
    ("cluster", "s3_read_write_resource"),
    ("cluster", "s3_read_resource"),
    ("cluster", "disable_hyperthreading"),
    ("cluster", "pre_install"),
    ("cluster", "post_install"),
    ("cluster", "proxy_server"),
    ("vpc", "additional_sg"),
    ("vpc", "vpc_security_group_id"),
)
DEV_SETTINGS = ("extra_json", "custom_chef_cookbook", "template_url", "instance_types_data")
# Schedulers ParallelCluster 3 dropped: their names and the release that dropped them.
DROPPED_SCHEDULERS = {"sge": ("SGE", "3.0"), "torque": ("Torque", "3.0"), "awsbatch": ("AWS Batch", "3.16")}


def run_checks(ctx: Context, cluster_template: str | None) -> None:
    """Every check, in ParallelCluster's order (which is also the order of the comments in the output)."""
    choose_cluster_section(ctx, cluster_template)
    choose_vpc_section(ctx)
    check_scheduler(ctx)
    check_dropped_keys(ctx)
    check_ambiguous_keys(ctx)
    check_dev_settings(ctx)
    check_storage_names(ctx)
    check_queue_names(ctx)
    note_default_ebs(ctx)


def _section(ctx: Context, where: str) -> str | None:
    return {"cluster": ctx.cluster, "vpc": ctx.vpc}.get(where, where)


def choose_cluster_section(ctx: Context, cluster_template: str | None) -> None:
    """-t NAME, else [global] cluster_template, else [cluster default]."""
    ini = ctx.ini
    label = cluster_template or ini.get("global", "cluster_template")
    if label is None and not ini.has_section("cluster default"):
        raise ConversionError(
            f"{ctx.source}: has no cluster section to convert; pass -t NAME for a [cluster NAME] section, set "
            "cluster_template in [global], or name the section [cluster default]"
        )
    ctx.cluster = f"cluster {label or 'default'}"
    if not ini.has_section(ctx.cluster):
        found = [name[len("cluster "):] for name in ini.sections() if name.startswith("cluster ")]
        choice = f"one of: {', '.join(found)}" if found else "a [cluster NAME] section first"
        raise ConversionError(f"{ctx.source}: has no [{ctx.cluster}] section; pass -t with {choice}")


def choose_vpc_section(ctx: Context) -> None:
    label = ctx.cluster_get("vpc_settings")
    if not label:
        raise ConversionError(
            f"{ctx.source}: [{ctx.cluster}] has no vpc_settings; add vpc_settings = NAME naming the [vpc NAME] "
            "section with the subnets"
        )
    ctx.vpc = f"vpc {label.strip()}"
    # ParallelCluster's converter goes on without the section and writes a config with no subnets; we stop here.
    if not ctx.ini.has_section(ctx.vpc):
        raise ConversionError(
            f"{ctx.source}: [{ctx.cluster}] vpc_settings = {label.strip()} names no [{ctx.vpc}] section; add that "
            "section or fix the name"
        )


def check_scheduler(ctx: Context) -> None:
    messages = ctx.messages
    messages.note(
        "encryption", "Encrypted",
        "ParallelCluster 3 encrypts volumes unless told otherwise (Encrypted: true), version 2 did not; set "
        "Encrypted: false on volumes that must stay unencrypted",
    )
    scheduler = ctx.cluster_get("scheduler")
    if scheduler == "slurm":
        messages.note(
            "imds", "HeadNode/Imds/Secured",
            "ParallelCluster 3 lets only the cluster administrator reach the head node's instance metadata service; "
            "set HeadNode/Imds/Secured: false if other users need it",
        )
    if not scheduler:
        raise ConversionError(f"{ctx.source}: [{ctx.cluster}] has no scheduler; set scheduler = slurm")
    if scheduler in DROPPED_SCHEDULERS:
        name, release = DROPPED_SCHEDULERS[scheduler]
        raise ConversionError(
            f"{ctx.source}: [{ctx.cluster}] scheduler = {scheduler} cannot be converted: ParallelCluster {release} "
            f"removed {name} and ParallelCluster 3.16 runs only slurm; convert a slurm cluster instead"
        )
    if scheduler != "slurm":
        raise ConversionError(f"{ctx.source}: [{ctx.cluster}] scheduler = {scheduler} is unknown; use slurm")


def ignore(ctx: Context, section: str | None, key: str) -> None:
    """Warn that `key` is dropped, when the section sets it."""
    value = ctx.ini.get(section, key)
    if value:
        ctx.messages.warn(
            "ignored", key, f"{key} = {value} ([{section}]) has no ParallelCluster 3 equivalent and is left out"
        )


def check_dropped_keys(ctx: Context) -> None:
    for where, key in IGNORED:
        ignore(ctx, _section(ctx, where), key)
    for where, key in REFUSED:
        value = ctx.ini.get(_section(ctx, where), key)
        if value:
            raise ConversionError(
                f"{ctx.source}: [{_section(ctx, where)}] {key} = {value} is not supported by ParallelCluster 3, which "
                "creates no subnets; remove it (give compute_subnet_id instead) and run the converter again"
            )
    if ctx.ini.typed("global", "sanity_check", "bool") is False:
        ctx.messages.warn(
            "ignored", "sanity_check",
            "sanity_check = false has no ParallelCluster 3 equivalent and is left out; pass --suppress-validators "
            "ALL to create-cluster instead",
        )


def check_ambiguous_keys(ctx: Context) -> None:
    for where, key in AMBIGUOUS:
        section = _section(ctx, where)
        value = ctx.ini.get(section, key)
        if value:
            ctx.messages.warn(
                "ambiguous", key,
                f"{key} = {value} ([{section}]) is given to the head node and to every queue; review the converted "
                "file and keep it only where it is needed",
                comment=False,
            )


def check_dev_settings(ctx: Context) -> None:
    present = [key for key in DEV_SETTINGS if ctx.cluster_get(key)]
    if not present:
        return
    keys = ", ".join(present)
    if not ctx.force:
        raise ConversionError(
            f"{ctx.source}: [{ctx.cluster}] sets {keys}, which ParallelCluster 3 takes only as DevSettings that are "
            "not officially supported; rerun with --force-convert to convert them anyway"
        )
    ctx.messages.warn(
        "dev_settings", keys,
        f"{keys} became DevSettings, which ParallelCluster 3 does not officially support and may change without notice",
    )


def _check_name(ctx: Context, name: str, section: str, *, underscores: bool) -> None:
    if name == "default":
        ctx.messages.warn(
            "default_name", section,
            f"'default' cannot be a name in ParallelCluster 3 ([{section}]); rename it before creating the cluster",
        )
    if underscores and "_" in name:
        ctx.messages.warn(
            "underscore", section,
            f"'{name}' ([{section}]) has an underscore, which ParallelCluster 3 names cannot have; rename it before "
            "creating the cluster",
        )


def check_storage_names(ctx: Context) -> None:
    seen: set[str] = set()
    for key, kind in (("ebs_settings", "ebs"), ("fsx_settings", "fsx"), ("raid_settings", "raid")):
        value = ctx.cluster_get(key)
        for name in split_labels(value) if value else ():
            if name in seen:
                ctx.messages.warn(
                    "duplicate_name", name,
                    f"the storage name '{name}' is used more than once, but SharedStorage names must be unique in "
                    "ParallelCluster 3; rename the sections before creating the cluster",
                )
            seen.add(name)
            _check_name(ctx, name, f"{kind} {name}", underscores=False)


def check_queue_names(ctx: Context) -> None:
    queues = ctx.cluster_get("queue_settings")
    for queue in split_labels(queues) if queues else ():
        section = f"queue {queue}"
        _check_name(ctx, queue, section, underscores=True)
        resources = ctx.ini.get(section, "compute_resource_settings")
        if not resources:
            return  # as ParallelCluster: the queues after one without compute resources are not checked
        for resource in split_labels(resources):
            resource_section = f"compute_resource {resource}"
            _check_name(ctx, resource, resource_section, underscores=True)
            ignore(ctx, resource_section, "initial_count")


def note_default_ebs(ctx: Context) -> None:
    if not ctx.cluster_get("ebs_settings"):
        ctx.messages.note(
            "default_ebs", "SharedStorage",
            "ParallelCluster 2 shared /shared from an EBS volume by default; the converted file keeps it as the "
            "SharedStorage item default-ebs, which you can remove if nothing needs /shared",
        )
