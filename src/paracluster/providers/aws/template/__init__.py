"""The CloudFormation template of a cluster, built with troposphere from the checked config and the cluster plan.

Pure: the config, the plan (`paracluster.plan.build_plan`) and `TemplateFacts` (what AWS said about the config's ids:
the VPC, subnet zones, AMIs; where the cluster's files live) go in, a template comes out; nothing here calls AWS.
The sections are added in dependency order: security groups, the table and log group, roles, storage, compute
launch templates, the head node, login pools, the head node's policy (it names the launch templates), outputs.
"""

from __future__ import annotations

import json

from troposphere import Template

from paracluster.providers.aws.template.cluster import add_cluster_resources
from paracluster.providers.aws.template.compute import add_compute_launch_templates
from paracluster.providers.aws.template.context import HEAD, Builder, TemplateFacts, pool_key, queue_key
from paracluster.providers.aws.template.head import add_head_node
from paracluster.providers.aws.template.iam import add_head_node_policy, add_roles
from paracluster.providers.aws.template.login import add_login_pools
from paracluster.providers.aws.template.network import add_security_groups
from paracluster.providers.aws.template.outputs import add_outputs
from paracluster.providers.aws.template.storage import add_storage

TEMPLATE_BODY_LIMIT = 51_200  # bytes of TemplateBody CloudFormation accepts; larger ones go through S3


def build_template(config, plan, facts: TemplateFacts) -> Template:
    b = Builder(config, plan, facts)
    add_security_groups(b)
    add_cluster_resources(b)
    add_roles(b)
    add_storage(b)
    add_compute_launch_templates(b)
    add_head_node_policy(b)
    add_head_node(b)
    pools = add_login_pools(b)
    add_outputs(b, pools)
    return b.template


def template_body(template: Template) -> str:
    """The template as the compact JSON sent to CloudFormation (its size decides TemplateBody or TemplateURL)."""
    return json.dumps(template.to_dict(), separators=(",", ":"), sort_keys=True)


def template_text(template: Template) -> str:
    """The template as readable, stable JSON (golden files)."""
    return json.dumps(template.to_dict(), indent=1, sort_keys=True) + "\n"


__all__ = ["HEAD", "TEMPLATE_BODY_LIMIT", "TemplateFacts", "build_template", "pool_key", "queue_key",
           "template_body", "template_text"]
