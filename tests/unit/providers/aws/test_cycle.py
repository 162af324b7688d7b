"""The whole cluster cycle on the aws provider against in-process moto: create -> describe -> list -> instances ->
compute fleet -> delete, through `paracluster.api` as the CLI calls it, asserting the AWS resources and their tags."""

from __future__ import annotations

import json

import pytest

from conftest import REGION, client, example_text
from paracluster import api
from paracluster.errors import ConfigValidationError, ConflictError, NotFoundError
from paracluster.providers.aws.naming import TAG_CLUSTER, TAG_NODE_TYPE, TAG_PARACLUSTER_CLUSTER, table_name

NAME = "research"


def _create(text: str, name: str = NAME) -> dict:
    return api.create_cluster(cluster_name=name, config_text=text, provider_name="aws", region=REGION)


def _tags(resource: dict, key: str = "Tags") -> dict:
    return {tag["Key"]: tag["Value"] for tag in resource.get(key, [])}


def _live_instances() -> list[dict]:
    reservations = client("ec2").describe_instances(Filters=[
        {"Name": f"tag:{TAG_CLUSTER}", "Values": [NAME]},
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped", "shutting-down"]},
    ])["Reservations"]
    return [instance for reservation in reservations for instance in reservation["Instances"]]


def test_research_cluster_cycle(research_site):
    network = research_site
    created = _create(example_text("research.yaml", network))["cluster"]
    assert created["clusterName"] == NAME and created["region"] == REGION
    assert created["clusterStatus"] in ("CREATE_IN_PROGRESS", "CREATE_COMPLETE")  # moto creates at once

    described = api.describe_cluster(cluster_name=NAME, provider_name="aws", region=REGION)
    assert described["clusterStatus"] == "CREATE_COMPLETE"
    assert described["cloudFormationStackStatus"] == "CREATE_COMPLETE"
    head = described["headNode"]
    assert head["instanceType"] == "c5.2xlarge" and head["state"] == "running"
    assert head["privateIpAddress"].startswith("10.0.1.")  # through its network interface in the head subnet
    assert described["computeFleetStatus"] == "UNKNOWN"  # the head node writes it (part 2)
    assert [pool["poolName"] for pool in described["loginNodes"]] == ["users"]
    assert described["loginNodes"][0]["address"].endswith(".elb.amazonaws.com")
    assert described["clusterConfiguration"]["url"].startswith("https://")
    assert "failures" not in described

    listed = api.list_clusters(provider_name="aws", region=REGION)["clusters"]
    assert [cluster["clusterName"] for cluster in listed] == [NAME]

    # Part 2's fleet launches compute nodes from a queue's launch template; EC2 tags them from it.
    ec2 = client("ec2")
    templates = {template["LaunchTemplateName"]: template["LaunchTemplateId"]
                 for template in ec2.describe_launch_templates()["LaunchTemplates"]}
    assert set(templates) == {"research-head-node", "research-login-users", "research-debug-small",
                              "research-cpu-c5xl", "research-cpu-c52xl", "research-scratch-c5d"}
    launched = ec2.run_instances(LaunchTemplate={"LaunchTemplateId": templates["research-debug-small"]},
                                 SubnetId=network.subnet_a, MinCount=1, MaxCount=1)["Instances"][0]
    assert _tags(launched)[TAG_NODE_TYPE] == "Compute" and launched["InstanceType"] == "c5.large"

    instances = api.describe_cluster_instances(cluster_name=NAME, provider_name="aws", region=REGION)["instances"]
    by_type = {}
    for instance in instances:
        by_type.setdefault(instance["nodeType"], []).append(instance)
    assert len(by_type["HeadNode"]) == 1 and len(by_type["LoginNode"]) == 2
    assert by_type["ComputeNode"][0]["queueName"] == "debug"
    assert {item["poolName"] for item in by_type["LoginNode"]} == {"users"}
    only_debug = api.describe_cluster_instances(cluster_name=NAME, queue_name="debug", provider_name="aws",
                                                region=REGION)["instances"]
    assert [item["instanceId"] for item in only_debug] == [launched["InstanceId"]]

    fleet = api.update_compute_fleet(cluster_name=NAME, status="STOP_REQUESTED", provider_name="aws", region=REGION)
    assert fleet["status"] == "STOP_REQUESTED"
    assert api.describe_compute_fleet(cluster_name=NAME, provider_name="aws", region=REGION)["status"] == \
        "STOP_REQUESTED"
    with pytest.raises(ConflictError, match="STOP_REQUESTED"):
        api.update_compute_fleet(cluster_name=NAME, status="STOP_REQUESTED", provider_name="aws", region=REGION)

    # Resources of the stack carry the cluster's tag.
    groups = ec2.describe_security_groups(Filters=[{"Name": f"tag:{TAG_CLUSTER}", "Values": [NAME]}])
    assert len(groups["SecurityGroups"]) == 4  # head, compute, login, storage
    stack = client("cloudformation").describe_stacks(StackName=NAME)["Stacks"][0]
    assert _tags(stack)[TAG_PARACLUSTER_CLUSTER] == NAME
    projects = [fs for fs in client("efs").describe_file_systems()["FileSystems"]
                if _tags(fs).get("Name") == "projects"]
    assert len(projects) == 1 and _tags(projects[0])[TAG_CLUSTER] == NAME
    assert client("dynamodb").describe_table(TableName=table_name(NAME))["Table"]["TableStatus"] == "ACTIVE"

    deleted = api.delete_cluster(cluster_name=NAME, provider_name="aws", region=REGION)["cluster"]
    assert deleted["clusterStatus"] == "DELETE_IN_PROGRESS"
    with pytest.raises(NotFoundError):
        api.describe_cluster(cluster_name=NAME, provider_name="aws", region=REGION)
    assert api.list_clusters(provider_name="aws", region=REGION)["clusters"] == []

    # Nothing of the cluster is left but the storage whose DeletionPolicy is Retain.
    assert _live_instances() == []
    assert ec2.describe_security_groups(Filters=[{"Name": f"tag:{TAG_CLUSTER}", "Values": [NAME]}])[
        "SecurityGroups"] == []
    assert ec2.describe_launch_templates()["LaunchTemplates"] == []
    assert [eni for eni in ec2.describe_network_interfaces()["NetworkInterfaces"]
            if _tags(eni, "TagSet").get(TAG_CLUSTER) == NAME] == []
    assert client("elbv2").describe_load_balancers()["LoadBalancers"] == []
    assert client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"] == []
    assert [role for role in client("iam").list_roles()["Roles"] if role["Path"] == "/paracluster/"] == []
    assert table_name(NAME) not in client("dynamodb").list_tables()["TableNames"]
    kept = [fs for fs in client("efs").describe_file_systems()["FileSystems"] if _tags(fs).get(TAG_CLUSTER) == NAME]
    assert [_tags(fs)["Name"] for fs in kept] == ["projects"]  # DeletionPolicy: Retain
    buckets = [bucket["Name"] for bucket in client("s3").list_buckets()["Buckets"] if bucket["Name"].startswith(
        "paracluster-")]
    assert len(buckets) == 1  # the per-account bucket stays for other clusters, without this cluster's files
    versions = client("s3").list_object_versions(Bucket=buckets[0], Prefix=f"paracluster/clusters/{NAME}/")
    assert "Versions" not in versions and "DeleteMarkers" not in versions


def test_create_refuses_a_second_cluster_of_the_same_name(research_site):
    text = example_text("research.yaml", research_site)
    _create(text)
    with pytest.raises(ConflictError, match="already exists"):
        _create(text)


def test_create_runs_the_aws_validators_before_anything_is_made(network):
    text = example_text("basic.yaml", network)  # key pair 'paracluster' does not exist
    with pytest.raises(ConfigValidationError) as raised:
        _create(text, "basic")
    messages = [item for item in raised.value.validation_messages if item["level"] == "ERROR"]
    assert [item["type"] for item in messages] == ["KeyPairValidator"]
    assert "HeadNode/Ssh/KeyName (line 11)" in messages[0]["message"]
    assert client("cloudformation").describe_stacks()["Stacks"] == []
    assert client("s3").list_buckets()["Buckets"] == []


def test_a_template_over_the_body_limit_goes_through_the_cluster_bucket(network):
    from test_template import large_cluster_text

    _create(large_cluster_text(12, network.subnet_a), "large")
    s3 = client("s3")
    [bucket] = [item["Name"] for item in s3.list_buckets()["Buckets"]]
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["paracluster/clusters/large/cluster-config.yaml",
                    "paracluster/clusters/large/cluster-template.json"]
    stack = client("cloudformation").get_template(StackName="large")["TemplateBody"]
    assert len(json.dumps(stack, separators=(",", ":"))) > 51_200
    assert api.describe_cluster(cluster_name="large", provider_name="aws", region=REGION)["clusterStatus"] == \
        "CREATE_COMPLETE"
    api.delete_cluster(cluster_name="large", provider_name="aws", region=REGION)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
