"""Outputs of the template: what describe-cluster and the fleet read back from the stack."""

from __future__ import annotations

from troposphere import GetAtt, Output, Ref

from paracluster.plan.spec import default_user_name
from paracluster.providers.aws.template.context import Builder


def add_outputs(b: Builder, pools: dict[str, dict]) -> None:
    def output(key: str, value, description: str | None = None) -> None:
        extra = {"Description": description} if description else {}
        b.template.add_output(Output(key, Value=value, **extra))

    output("HeadNodeInstanceId", Ref(b.head_instance))
    output("HeadNodePrivateIp", GetAtt(b.head_instance, "PrivateIp"))
    output("ClusterTable", Ref(b.table))
    if b.log_group is not None:
        output("ClusterLogGroup", Ref(b.log_group))
    output("ClusterBucket", b.facts.bucket)
    output("ClusterPrefix", b.facts.prefix)
    output("DefaultUser", default_user_name(b.config))
    output("ParaClusterVersion", b.facts.version)
    for (queue, resource), template in b.launch_templates.items():
        output(template.title, Ref(template), f"{queue}/{resource}")
    for name, details in pools.items():
        key = b.unique_id("Output", "LoginPool", name)
        output(f"{key}Name", name, "login pool")
        output(f"{key}Address", GetAtt(details["balancer"], "DNSName"), name)
        output(f"{key}Ports", ",".join(str(port) for port in details["target_groups"]), name)
        output(f"{key}TargetGroup", Ref(details["target_groups"][22]), name)
    for name, storage_id in b.storage_outputs:
        output(b.unique_id("Output", "Storage", name), storage_id, name)
