"""What moto cannot produce, with botocore's Stubber (and, for retries, canned HTTP answers): a create that fails and
rolls back, a delete stuck in DELETE_FAILED, throttling, and validator paths that need AWS answers moto lacks."""

from __future__ import annotations

import datetime
import json

import pytest
from botocore.stub import ANY, Stubber

from conftest import REGION, example_text
from paracluster import api
from paracluster.cli.waiting import wait_for_create, wait_for_delete
from paracluster.errors import ClusterError, ClusterOperationFailed
from paracluster.providers.aws.naming import TAG_PARACLUSTER_CLUSTER, TAG_PARACLUSTER_VERSION
from paracluster.providers.aws.provider import session_for

NAME = "stubbed"
STACK_ID = f"arn:aws:cloudformation:{REGION}:123456789012:stack/{NAME}/0a1b2c3d-0000-0000-0000-000000000000"
WHEN = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.timezone.utc)


def _stack(status: str) -> dict:
    return {"Stacks": [{"StackName": NAME, "StackId": STACK_ID, "StackStatus": status, "CreationTime": WHEN,
                        "Tags": [{"Key": TAG_PARACLUSTER_CLUSTER, "Value": NAME},
                                 {"Key": TAG_PARACLUSTER_VERSION, "Value": "0.1.0"}]}]}


def _event(logical: str, kind: str, status: str, reason: str = "", minute: int = 0) -> dict:
    event = {"StackId": STACK_ID, "EventId": f"{logical}-{status}-{minute}", "StackName": NAME,
             "LogicalResourceId": logical, "ResourceType": kind, "ResourceStatus": status,
             "Timestamp": WHEN + datetime.timedelta(minutes=minute)}
    if reason:
        event["ResourceStatusReason"] = reason
    return event


@pytest.fixture
def cloudformation(aws):
    """The provider's CloudFormation client under a Stubber (EC2 and the rest stay on moto)."""
    stubbed = session_for(REGION).client("cloudformation")
    with Stubber(stubbed) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def _describe() -> dict:
    return api.describe_cluster(cluster_name=NAME, provider_name="aws", region=REGION)


def test_a_failed_create_reports_the_first_failed_resource_and_rolls_back(cloudformation):
    events_in_progress = {"StackEvents": [_event("HeadNode", "AWS::EC2::Instance", "CREATE_IN_PROGRESS", minute=1)]}
    events_failed = {"StackEvents": [
        _event(NAME, "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE", minute=40),
        _event("ClusterTable", "AWS::DynamoDB::Table", "DELETE_COMPLETE", minute=38),
        _event(NAME, "AWS::CloudFormation::Stack", "ROLLBACK_IN_PROGRESS",
               "The following resource(s) failed to create: [HeadNodeWaitCondition]", minute=35),
        _event("LoginPoolUsersAutoScalingGroup", "AWS::AutoScaling::AutoScalingGroup", "CREATE_FAILED",
               "Resource creation cancelled", minute=34),
        _event("HeadNodeWaitCondition", "AWS::CloudFormation::WaitCondition", "CREATE_FAILED",
               "Failed to receive 1 resource signal(s) within the specified duration", minute=33),
    ]}
    cloudformation.add_response("describe_stacks", _stack("CREATE_IN_PROGRESS"), {"StackName": NAME})
    cloudformation.add_response("describe_stack_events", events_in_progress, {"StackName": STACK_ID})
    cloudformation.add_response("describe_stacks", _stack("ROLLBACK_COMPLETE"), {"StackName": NAME})
    cloudformation.add_response("describe_stack_events", events_failed, {"StackName": STACK_ID})
    shown = []
    with pytest.raises(ClusterOperationFailed) as raised:
        wait_for_create(_describe, NAME, shown.append)
    assert shown[0].startswith(f"{NAME}: HeadNode CREATE_IN_PROGRESS")
    body = raised.value.body()
    assert body["clusterStatus"] == "CREATE_FAILED" and body["cloudFormationStackStatus"] == "ROLLBACK_COMPLETE"
    assert body["failures"] == [{
        "failureCode": "HeadNodeBootstrapFailure",
        "failureReason": "HeadNodeWaitCondition (AWS::CloudFormation::WaitCondition): Failed to receive 1 resource "
                         "signal(s) within the specified duration"}]
    assert "Failed to receive 1 resource signal(s)" in body["message"]


def test_rollback_on_failure_false_keeps_the_failed_resources(cloudformation, research_site):
    cloudformation.add_client_error("describe_stacks", "ValidationError", f"Stack with id {NAME} does not exist", 400,
                                    {"StackName": NAME})
    expected = {"StackName": NAME, "Capabilities": ["CAPABILITY_IAM"], "OnFailure": "DO_NOTHING",
                "TemplateBody": ANY, "Tags": ANY, "ClientRequestToken": ANY}
    cloudformation.add_response("create_stack", {"StackId": STACK_ID}, expected)
    cloudformation.add_response("describe_stacks", _stack("CREATE_IN_PROGRESS"), {"StackName": NAME})
    answer = api.create_cluster(cluster_name=NAME, config_text=example_text("research.yaml", research_site),
                                provider_name="aws", region=REGION, rollback_on_failure=False)
    assert answer["cluster"]["clusterStatus"] == "CREATE_IN_PROGRESS"


def test_a_delete_stuck_in_delete_failed_says_why_and_can_be_retried(cloudformation):
    failed_events = {"StackEvents": [
        _event(NAME, "AWS::CloudFormation::Stack", "DELETE_FAILED",
               "The following resource(s) failed to delete: [ComputeSecurityGroup]", minute=20),
        _event("ComputeSecurityGroup", "AWS::EC2::SecurityGroup", "DELETE_FAILED",
               "resource sg-0123456789abcdef0 has a dependent object", minute=19),
    ]}
    cloudformation.add_response("describe_stacks", _stack("DELETE_FAILED"), {"StackName": NAME})
    cloudformation.add_response("describe_stack_events", failed_events, {"StackName": STACK_ID})
    with pytest.raises(ClusterOperationFailed) as raised:
        wait_for_delete(_describe, NAME, lambda text: None)
    body = raised.value.body()
    assert body["clusterStatus"] == "DELETE_FAILED"
    assert body["failures"] == [{"failureCode": "ClusterDeletionFailure", "failureReason":
                                 "ComputeSecurityGroup (AWS::EC2::SecurityGroup): resource sg-0123456789abcdef0 has "
                                 "a dependent object"}]
    # A second delete-cluster asks CloudFormation again.
    cloudformation.add_response("describe_stacks", _stack("DELETE_FAILED"), {"StackName": NAME})
    cloudformation.add_response("delete_stack", {}, {"StackName": STACK_ID})
    deleted = api.delete_cluster(cluster_name=NAME, provider_name="aws", region=REGION)["cluster"]
    assert deleted["clusterStatus"] == "DELETE_IN_PROGRESS"


class _Body:
    def __init__(self, data: bytes):
        self.data = data

    def stream(self, **kwargs):
        yield self.data


def _answer(status: int, body: str):
    from botocore.awsrequest import AWSResponse

    return AWSResponse("https://cloudformation.us-east-1.amazonaws.com/", status, {}, _Body(body.encode()))


THROTTLED = ('<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>'
             '</Error><RequestId>1</RequestId></ErrorResponse>')
LISTED = ('<DescribeStacksResponse><DescribeStacksResult><Stacks><member><StackName>other</StackName>'
          '<StackId>arn:aws:cloudformation:us-east-1:123456789012:stack/other/1</StackId>'
          '<CreationTime>2026-01-01T12:00:00Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus>'
          '</member></Stacks></DescribeStacksResult></DescribeStacksResponse>')


@pytest.fixture
def no_backoff(monkeypatch):
    import botocore.endpoint

    slept = []
    monkeypatch.setattr(botocore.endpoint.time, "sleep", slept.append)
    return slept


def test_throttled_requests_are_retried_with_backoff(no_backoff):
    client = session_for(REGION).client("cloudformation")
    answers = [_answer(400, THROTTLED), _answer(400, THROTTLED), _answer(200, LISTED)]
    sent = []

    def send(request, **kwargs):
        sent.append(request.url)
        return answers.pop(0)

    client.meta.events.register("before-send.cloudformation.DescribeStacks", send)
    try:
        assert api.list_clusters(provider_name="aws", region=REGION) == {"clusters": []}  # 'other' is not ours
    finally:
        client.meta.events.unregister("before-send.cloudformation.DescribeStacks", send)
    assert len(sent) == 3 and len(no_backoff) == 2


def test_throttling_that_outlasts_the_retries_is_one_sentence(no_backoff):
    client = session_for(REGION).client("cloudformation")

    def send(request, **kwargs):
        return _answer(400, THROTTLED)

    client.meta.events.register("before-send.cloudformation.DescribeStacks", send)
    try:
        with pytest.raises(ClusterError) as raised:
            api.list_clusters(provider_name="aws", region=REGION)
    finally:
        client.meta.events.unregister("before-send.cloudformation.DescribeStacks", send)
    assert str(raised.value) == ("failed to list clusters: AWS kept throttling the request (Throttling) after 8 "
                                 "attempts; try again in a minute")
    assert len(no_backoff) == 7


# --- validator paths moto cannot answer -------------------------------------------------------------------------


def _findings(text: str, validator_type: str) -> list[tuple[str, str]]:
    from test_validators import messages

    return messages(text, validator_type)


def _storage(kind: str, settings: str, key: str, value: str) -> str:
    return (f"SharedStorage:\n  - Name: shared\n    StorageType: {kind}\n    MountDir: /shared\n"
            f"    {settings}:\n      {key}: {value}\n")


@pytest.fixture
def fsx(network):
    with Stubber(session_for(REGION).client("fsx")) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def test_existing_fsx_volume_and_file_cache_must_exist_in_the_clusters_vpc(network, fsx):
    from test_validators import config_text

    volume = "fsvol-0123456789abcdef0"
    fsx.add_client_error("describe_volumes", "VolumeNotFound", "Volume does not exist", 400,
                         expected_params={"VolumeIds": [volume]})
    text = config_text(network) + _storage("FsxOntap", "FsxOntapSettings", "VolumeId", volume)
    [(level, message)] = _findings(text, "ExistingFsxNetworkingValidator")
    assert message.startswith("SharedStorage[0]/FsxOntapSettings/VolumeId (line")
    assert f"FSx for ONTAP volume {volume} does not exist" in message

    lustre = "fs-0123456789abcdef0"
    elsewhere = {"FileSystemId": lustre, "VpcId": "vpc-0123456789abcdef9"}
    fsx.add_response("describe_file_systems", {"FileSystems": [elsewhere]}, {"FileSystemIds": [lustre]})
    text = config_text(network) + _storage("FsxLustre", "FsxLustreSettings", "FileSystemId", lustre)
    [(level, message)] = _findings(text, "ExistingFsxNetworkingValidator")
    assert f"is in VPC vpc-0123456789abcdef9, not in the cluster's VPC {network.vpc}" in message

    fsx.add_response("describe_file_systems", {"FileSystems": [{"FileSystemId": lustre, "VpcId": network.vpc}]},
                     {"FileSystemIds": [lustre]})
    assert _findings(text, "ExistingFsxNetworkingValidator") == []

    cache = "fc-0123456789abcdef0"
    fsx.add_response("describe_file_caches", {"FileCaches": []}, {"FileCacheIds": [cache]})
    text = config_text(network) + _storage("FileCache", "FileCacheSettings", "FileCacheId", cache)
    assert f"File Cache {cache} does not exist" in _findings(text, "ExistingFsxNetworkingValidator")[0][1]


def test_placement_group_names_are_looked_up(network):
    from test_validators import config_text

    with Stubber(session_for(REGION).client("ec2")) as ec2:
        ec2.add_client_error("describe_placement_groups", "InvalidPlacementGroup.Unknown",
                             "The Placement Group 'nowhere' is unknown.", 400, {"GroupNames": ["nowhere"]})
        ec2.add_response("describe_placement_groups", {"PlacementGroups": [{"GroupName": "racks"}]},
                         {"GroupNames": ["racks"]})
        for name, expected in (("nowhere", 1), ("racks", 0)):
            loaded = _load(config_text(network, queue_networking=f"PlacementGroup:\n  Name: {name}\n"))
            found = _run_one(loaded, "PlacementGroupNamingValidator")
            assert len(found) == expected
            if found:
                assert "placement group 'nowhere' does not exist" in found[0]


def _load(text: str):
    from paracluster.config.load import load_config_text
    from paracluster.config.schema import CLUSTER

    return load_config_text(CLUSTER, text).config


def _run_one(config, validator_type: str) -> list[str]:
    """Run one AWS validator alone (the others would ask the stubbed client too)."""
    from paracluster.config.validate.core import REGISTRY, Report
    from paracluster.plan import build_plan
    from paracluster.providers.aws.lookups import Lookups
    from paracluster.providers.aws.validate import KIND, AwsContext, _load as load_validators

    load_validators()
    plan = build_plan("checked", config)
    context = AwsContext(config, plan.catalog, Lookups(session_for(REGION)), "checked")
    report = Report(validator_type)
    for entry in REGISTRY:
        if entry.kind == KIND and entry.type == validator_type:
            entry.function(context, report)
    return [finding.message for finding in report.findings]


def test_unreadable_objects_and_undescribable_secrets(network):
    from test_validators import config_text

    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:db"
    database = ("  SlurmSettings:\n    Database:\n      Uri: db.example.internal:3306\n      UserName: admin\n"
                f"      PasswordSecretArn: {arn}\n")
    config = _load(config_text(network).replace("Scheduler: slurm\n", "Scheduler: slurm\n" + database))
    with Stubber(session_for(REGION).client("secretsmanager")) as secrets:
        secrets.add_client_error("describe_secret", "AccessDeniedException", "not allowed", 400, {"SecretId": arn})
        [message] = _run_one(config, "PasswordSecretArnValidator")
    assert "cannot be described with your credentials, so it was not checked" in message

    action = "CustomActions:\n  OnNodeStart:\n    Script: s3://locked/start.sh\n"
    config = _load(config_text(network, queue=action))
    with Stubber(session_for(REGION).client("s3")) as s3:
        s3.add_client_error("head_object", "403", "Forbidden", 403, {"Bucket": "locked", "Key": "start.sh"})
        [message] = _run_one(config, "AsyncTimedUrlValidator")
    assert message.endswith("s3://locked/start.sh cannot be read with your credentials; grant s3:GetObject on it")


def test_stack_events_are_shown_in_pclusters_shape(cloudformation):
    cloudformation.add_response("describe_stacks", _stack("CREATE_COMPLETE"), {"StackName": NAME})
    cloudformation.add_response("describe_stack_events", {"StackEvents": [
        _event("HeadNode", "AWS::EC2::Instance", "CREATE_COMPLETE", minute=3)]}, {"StackName": STACK_ID})
    events = api.get_cluster_stack_events(cluster_name=NAME, region=REGION, provider_name="aws")
    assert events == {"events": [{"stackId": STACK_ID, "eventId": "HeadNode-CREATE_COMPLETE-3", "stackName": NAME,
                                  "logicalResourceId": "HeadNode", "physicalResourceId": "",
                                  "resourceType": "AWS::EC2::Instance", "resourceStatus": "CREATE_COMPLETE",
                                  "timestamp": "2026-01-01T12:03:00.000Z"}]}
    json.dumps(events)  # JSON-ready
