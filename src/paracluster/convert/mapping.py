"""The v2 cluster section and the sections it names, mapped to a v3 cluster config as ParallelCluster 3.16 maps them.

Keys come out in the order ParallelCluster's converter writes them, so its expected outputs and ours compare line by
line as well as key by key. Where its converter writes keys its own schema rejects (Iam/Role/LambdaFunctionRole,
Raid "Throughout"), we write the v3 keys.
"""

from __future__ import annotations

import json
import re

from paracluster.convert.checks import ignore
from paracluster.convert.context import Context
from paracluster.convert.ini import split_labels
from paracluster.convert.messages import ConversionError
from paracluster.convert.storage import copy_keys, shared_storage

DEFAULT_INSTANCE_TYPE = "t3.micro"  # ParallelCluster 2's default for the head node and compute instances
_S3_ARN = re.compile(r"arn:(.*?):s3:::([^\/\*]*)((\/)?(.*))?")


def put(target: dict, key: str, value: object) -> None:
    """Set `key` only when `value` is not empty (ParallelCluster's converter leaves empty sections out)."""
    if value:
        target[key] = value


def convert_cluster(ctx: Context) -> dict:
    """The v3 config of the chosen cluster section, every top-level section in ParallelCluster's order."""
    config: dict = {}
    copy_keys(ctx, "aws", (("aws_region_name", "Region", "str"),), config)
    image_keys = (("custom_ami", "CustomAmi", "str"), ("base_os", "Os", "str"))
    put(config, "Image", copy_keys(ctx, ctx.cluster, image_keys, {}))
    copy_keys(ctx, ctx.cluster, (("cluster_resource_bucket", "CustomS3Bucket", "str"),
                                 ("additional_cfn_template", "AdditionalResources", "str")), config)
    lambda_role = ctx.cluster_get("iam_lambda_role")
    if lambda_role:
        config["Iam"] = {"Roles": {"LambdaFunctionsRole": ctx.role_arn(lambda_role)}}
    intel = copy_keys(ctx, ctx.cluster, (("enable_intel_hpc_platform", "IntelHpcPlatform", "bool"),), {})
    put(config, "AdditionalPackages", {"IntelSoftware": intel} if intel else {})
    put(config, "Tags", _tags(ctx))
    put(config, "SharedStorage", shared_storage(ctx))
    put(config, "Monitoring", _monitoring(ctx))
    config["HeadNode"] = _head_node(ctx)
    config["Scheduling"] = _scheduling(ctx)
    put(config, "DevSettings", _dev_settings(ctx))
    return config


def _tags(ctx: Context) -> list[dict]:
    text = ctx.cluster_get("tags")
    if not text:
        return []
    try:
        tags = json.loads(text)
        return [{"Key": key, "Value": value} for key, value in tags.items()]
    except (ValueError, AttributeError):
        raise ConversionError(
            f'{ctx.source}: [{ctx.cluster}] tags = {text} is not a JSON object such as {{"key": "value"}}; fix it'
        ) from None


def _monitoring(ctx: Context) -> dict:
    monitoring: dict = {}
    label = ctx.cluster_get("cw_log_settings")
    if label:
        keys = (("enable", "Enabled", "bool"), ("retention_days", "RetentionInDays", "int"))
        cloudwatch = copy_keys(ctx, f"cw_log {label.strip()}", keys, {})
        put(monitoring, "Logs", {"CloudWatch": cloudwatch} if cloudwatch else {})
    label = ctx.cluster_get("dashboard_settings")
    if label:
        dashboard = copy_keys(ctx, f"dashboard {label.strip()}", (("enable", "Enabled", "bool"),), {})
        put(monitoring, "Dashboards", {"CloudWatch": dashboard} if dashboard else {})
    return monitoring


def _head_node(ctx: Context) -> dict:
    head = {"InstanceType": ctx.cluster_get("master_instance_type") or DEFAULT_INSTANCE_TYPE}
    networking = copy_keys(ctx, ctx.vpc, (("master_subnet_id", "SubnetId", "str"),
                                          ("use_public_ips", "ElasticIp", "bool")), {})
    put(networking, "Proxy", _proxy(ctx))
    _security_groups(ctx, networking)
    put(head, "Networking", networking)
    copy_keys(ctx, ctx.cluster, (("disable_hyperthreading", "DisableSimultaneousMultithreading", "bool"),), head)
    ssh = copy_keys(ctx, ctx.cluster, (("key_name", "KeyName", "str"),), {})
    copy_keys(ctx, ctx.vpc, (("ssh_from", "AllowedIps", "str"),), ssh)
    put(head, "Ssh", ssh)
    put(head, "LocalStorage", _local_storage(ctx, "master_root_volume_size"))
    put(head, "Dcv", _dcv(ctx))
    put(head, "CustomActions", _custom_actions(ctx))
    put(head, "Iam", _iam(ctx))
    return head


def _proxy(ctx: Context) -> dict:
    return copy_keys(ctx, ctx.cluster, (("proxy_server", "HttpProxyAddress", "str"),), {})


def _security_groups(ctx: Context, networking: dict) -> None:
    for v2_key, v3_key in (("vpc_security_group_id", "SecurityGroups"), ("additional_sg", "AdditionalSecurityGroups")):
        group = ctx.ini.get(ctx.vpc, v2_key)
        put(networking, v3_key, [group] if group else [])


def _local_storage(ctx: Context, size_key: str) -> dict:
    storage: dict = {}
    put(storage, "RootVolume", copy_keys(ctx, ctx.cluster, ((size_key, "Size", "int"),), {}))
    put(storage, "EphemeralVolume", copy_keys(ctx, ctx.cluster, (("ephemeral_dir", "MountDir", "str"),), {}))
    return storage


def _dcv(ctx: Context) -> dict:
    label = ctx.cluster_get("dcv_settings")
    if not label:
        return {}
    section = f"dcv {label.strip()}"
    dcv = {"Enabled": True} if ctx.ini.get(section, "enable") == "master" else {}
    return copy_keys(ctx, section, (("port", "Port", "int"), ("access_from", "AllowedIps", "str")), dcv)


def _action(ctx: Context, script_key: str) -> dict:
    """A v2 bootstrap action as a v3 custom action; ParallelCluster's converter puts the script first in Args."""
    action = copy_keys(ctx, ctx.cluster, ((script_key, "Script", "str"),), {})
    args = ctx.cluster_get(f"{script_key}_args")
    if args:
        # v2 quoted the whole argument string; quotes are dropped and the rest split on spaces, as ParallelCluster.
        action["Args"] = [ctx.cluster_get(script_key), *args.replace("'", "").replace('"', "").split()]
    return action


def _custom_actions(ctx: Context) -> dict:
    actions: dict = {}
    put(actions, "OnNodeStart", _action(ctx, "pre_install"))
    put(actions, "OnNodeConfigured", _action(ctx, "post_install"))
    return actions


def _bucket_and_key(ctx: Context, key: str, arn: str) -> tuple[str, str | None]:
    """The bucket and key pattern of an S3 ARN such as arn:aws:s3:::bucket/prefix/* (a bare * means every bucket)."""
    if arn == "*":
        return "*", None
    match = _S3_ARN.match(arn)
    if match is None:
        raise ConversionError(
            f"{ctx.source}: [{ctx.cluster}] {key} = {arn} is not an S3 ARN; use one such as arn:aws:s3:::bucket/*"
        )
    bucket, path = match.group(2), match.group(5)
    if path == "*":
        return (bucket, None) if bucket else ("*", None)
    return bucket, path


def _iam(ctx: Context) -> dict:
    iam: dict = {}
    role = ctx.cluster_get("ec2_iam_role")
    if role:
        iam["InstanceRole"] = ctx.role_arn(role)
    policies = ctx.cluster_get("additional_iam_policies")
    put(iam, "AdditionalIamPolicies", [{"Policy": policy} for policy in split_labels(policies)] if policies else [])
    access = []
    for key, write in (("s3_read_resource", False), ("s3_read_write_resource", True)):
        arn = ctx.cluster_get(key)
        if not arn:
            continue
        bucket, path = _bucket_and_key(ctx, key, arn)
        if write and not bucket:
            raise ConversionError(
                f"{ctx.source}: [{ctx.cluster}] {key} = {arn} names no bucket, which ParallelCluster 3 needs; "
                "use an ARN such as arn:aws:s3:::bucket/*"
            )
        entry = {"EnableWriteAccess": True} if write else {}
        entry["BucketName"] = bucket
        if path:
            entry["KeyName"] = path
        access.append(entry)
    put(iam, "S3Access", access)
    return iam


def _scheduling(ctx: Context) -> dict:
    scheduling = copy_keys(ctx, ctx.cluster, (("scheduler", "Scheduler", "str"),), {})
    settings: dict = {}
    label = ctx.cluster_get("scaling_settings")
    if label:
        copy_keys(ctx, f"scaling {label.strip()}", (("scaledown_idletime", "ScaledownIdletime", "int"),), settings)
    put(settings, "Dns", copy_keys(ctx, ctx.cluster, (("disable_cluster_dns", "DisableManagedDns", "bool"),), {}))
    put(scheduling, "SlurmSettings", settings)
    queues = ctx.cluster_get("queue_settings")
    if queues:
        scheduling["SlurmQueues"] = [_queue(ctx, name) for name in split_labels(queues)]
    else:
        scheduling["SlurmQueues"] = [_single_queue(ctx)]
    return scheduling


def _capacity_type(ctx: Context, section: str, key: str, queue: dict) -> None:
    value = ctx.ini.get(section, key)
    if value is not None:
        queue["CapacityType"] = value.upper()


def _queue(ctx: Context, name: str) -> dict:
    section = f"queue {name}"
    queue = {"Name": name}
    _capacity_type(ctx, section, "compute_type", queue)
    resources = ctx.ini.get(section, "compute_resource_settings")
    if not resources:
        raise ConversionError(
            f"{ctx.source}: [{section}] has no compute_resource_settings; list the [compute_resource NAME] sections "
            "of the queue"
        )
    put(queue, "ComputeResources", [_compute_resource(ctx, label, section) for label in split_labels(resources)])
    put(queue, "CustomActions", _custom_actions(ctx))
    put(queue, "Iam", _iam(ctx))
    put(queue, "Networking", _queue_networking(ctx, section))
    put(queue, "ComputeSettings", _compute_settings(ctx))
    return queue


def _efa_from_cluster(ctx: Context) -> dict:
    # In v2 `enable_efa = compute` (and enable_efa_gdr) in the cluster section turned EFA on for every compute node.
    efa = {}
    if ctx.cluster_get("enable_efa") == "compute":
        efa["Enabled"] = True
    if ctx.cluster_get("enable_efa_gdr") == "compute":
        efa["GdrSupport"] = True
    return efa


def _compute_resource(ctx: Context, label: str, queue_section: str) -> dict:
    section = f"compute_resource {label}"
    resource = {"Name": label}
    efa = _efa_from_cluster(ctx)
    copy_keys(ctx, section, (("instance_type", "InstanceType", "str"), ("min_count", "MinCount", "int"),
                             ("max_count", "MaxCount", "int"), ("spot_price", "SpotPrice", "float")), resource)
    smt = (("disable_hyperthreading", "DisableSimultaneousMultithreading", "bool"),)
    copy_keys(ctx, queue_section, smt, resource)
    copy_keys(ctx, queue_section, (("enable_efa", "Enabled", "bool"), ("enable_efa_gdr", "GdrSupport", "bool")), efa)
    if ctx.ini.get(queue_section, "disable_hyperthreading") is None:
        copy_keys(ctx, ctx.cluster, smt, resource)
    put(resource, "Efa", efa)
    return resource


def _queue_networking(ctx: Context, section: str) -> dict:
    networking: dict = {}
    subnet = ctx.ini.get(ctx.vpc, "compute_subnet_id") or ctx.ini.get(ctx.vpc, "master_subnet_id")
    put(networking, "SubnetIds", [subnet] if subnet else [])
    _security_groups(ctx, networking)
    placement = ctx.ini.get(section, "placement_group")
    if placement:
        networking["PlacementGroup"] = {"Enabled": True} if placement == "DYNAMIC" else {"Id": placement}
    put(networking, "Proxy", _proxy(ctx))
    return networking


def _compute_settings(ctx: Context) -> dict:
    storage = _local_storage(ctx, "compute_root_volume_size")
    return {"LocalStorage": storage} if storage else {}


def _single_queue(ctx: Context) -> dict:
    """A v2 cluster without queue_settings had one queue; ParallelCluster names it default-queue."""
    queue: dict = {"Name": "default-queue"}
    put(queue, "ComputeSettings", _compute_settings(ctx))
    _capacity_type(ctx, ctx.cluster, "cluster_type", queue)
    put(queue, "CustomActions", _custom_actions(ctx))
    put(queue, "Iam", _iam(ctx))
    put(queue, "Networking", _queue_networking(ctx, ctx.cluster))
    resource = {"Name": "default-resource"}
    copy_keys(ctx, ctx.cluster, (("spot_price", "SpotPrice", "float"), ("max_queue_size", "MaxCount", "int"),
                                 ("disable_hyperthreading", "DisableSimultaneousMultithreading", "bool")), resource)
    initial = ctx.cluster_get("initial_queue_size", "int")
    if initial and ctx.cluster_get("maintain_initial_size", "bool"):
        resource["MinCount"] = initial
    else:  # without maintain_initial_size, v2 kept the initial nodes only until the first scale-down
        ignore(ctx, ctx.cluster, "initial_queue_size")
    resource["InstanceType"] = ctx.cluster_get("compute_instance_type") or DEFAULT_INSTANCE_TYPE
    put(resource, "Efa", _efa_from_cluster(ctx))
    queue["ComputeResources"] = [resource]
    return queue


def _dev_settings(ctx: Context) -> dict:
    dev = copy_keys(ctx, ctx.cluster, (("template_url", "ClusterTemplate", "str"),
                                       ("instance_types_data", "InstanceTypesData", "str")), {})
    cookbook = copy_keys(ctx, ctx.cluster, (("extra_json", "ExtraChefAttributes", "str"),
                                            ("custom_chef_cookbook", "ChefCookbook", "str")), {})
    put(dev, "Cookbook", cookbook)
    return dev
