"""update-cluster, delete-cluster-instances and get-cluster-stack-events in pcluster's JSON, against a fake provider;
the local provider's request outcome and its bounded stack event file."""

from __future__ import annotations

import copy

import pytest
import yaml

from paracluster import api
from paracluster.config.schema import CLUSTER
from paracluster.config.update import FleetFacts, plan_update
from paracluster.errors import BadRequestError, DryRunSucceeded, NotFoundError, UpdateRefused
from paracluster.providers.local.host import events
from paracluster.providers.local.host.update import outcome
from paracluster.records import ClusterRecord, ConfigChange, StackEvent, UpdateOutcome

CONFIG = """\
Region: us-east-1
Image: {Os: alinux2023}
HeadNode:
  InstanceType: c5.xlarge
  Networking: {SubnetId: subnet-0123456789abcdef0}
  Ssh: {KeyName: k}
Scheduling:
  Scheduler: slurm
  SlurmQueues:
    - Name: q1
      ComputeResources: [{Name: cr1, InstanceType: c5.xlarge, MaxCount: 4}]
      Networking: {SubnetIds: [subnet-0123456789abcdef0]}
"""
CLUSTER_RECORD = ClusterRecord("c1", "us-east-1", "0.1.0", "UPDATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "arn:c1")
RAISED = ConfigChange("Scheduling.SlurmQueues[q1].ComputeResources[cr1].MaxCount", 4, 8,
                      "RESIZE_UPDATE_STRATEGY_ON_REMOVE")
REMOVED = ConfigChange("Scheduling.SlurmQueues", {"Name": "q2"}, None, "RESIZE_UPDATE_STRATEGY_ON_REMOVE",
                       "ACTION NEEDED", "All compute nodes must be stopped. Stop the fleet")


class FakeProvider:
    name = "fake"

    def __init__(self, answer: UpdateOutcome | None = None, exists: bool = True):
        self.answer = answer
        self.exists = exists
        self.calls = []

    def check_config(self, config, updating=None):
        self.calls.append(("check_config", updating))

    def update_cluster(self, name, region, config_text, force, dryrun):
        self.calls.append(("update_cluster", name, region, force, dryrun))
        return self.answer

    def delete_cluster_instances(self, name, region):
        if not self.exists:
            raise NotFoundError(f"cluster '{name}' does not exist")
        self.calls.append(("delete_cluster_instances", name))

    def stack_events(self, name, region, next_token):
        event = StackEvent("e1", "arn:c1", name, name, "arn:c1", "AWS::CloudFormation::Stack", "t", "CREATE_COMPLETE")
        return [event], "100" if next_token is None else None


@pytest.fixture
def fake(monkeypatch):
    def use(provider):
        monkeypatch.setattr(api, "provider", lambda name=None: provider)
        return provider

    return use


def call(**extra):
    return api.update_cluster(cluster_name="c1", config_text=CONFIG, **extra)


def test_a_started_update_answers_the_cluster_and_its_change_set(fake):
    provider = fake(FakeProvider(UpdateOutcome("STARTED", [RAISED], CLUSTER_RECORD)))
    body = call(force_update=True)
    assert body["cluster"]["clusterStatus"] == "UPDATE_IN_PROGRESS"
    assert body["changeSet"] == [{"parameter": RAISED.parameter, "currentValue": "4", "requestedValue": "8"}]
    assert ("check_config", "c1") in provider.calls
    assert ("update_cluster", "c1", "us-east-1", True, False) in provider.calls  # the config's Region


def test_a_refused_update_lists_the_changes_and_why(fake):
    fake(FakeProvider(UpdateOutcome("REFUSED", [RAISED, REMOVED])))
    with pytest.raises(UpdateRefused) as refused:
        call()
    assert refused.value.body() == {
        "message": "Update failure",
        "changeSet": [{"parameter": RAISED.parameter, "currentValue": "4", "requestedValue": "8"},
                      {"parameter": "Scheduling.SlurmQueues", "currentValue": '{"Name": "q2"}', "requestedValue": "-"}],
        "updateValidationErrors": [{"parameter": "Scheduling.SlurmQueues", "currentValue": '{"Name": "q2"}',
                                    "requestedValue": "-",
                                    "message": "All compute nodes must be stopped. Stop the fleet"}],
    }


def test_no_changes_and_dry_runs(fake):
    fake(FakeProvider(UpdateOutcome("NO_CHANGES")))
    with pytest.raises(BadRequestError, match="^No changes found in your cluster configuration.$"):
        call()
    fake(FakeProvider(UpdateOutcome("CHECKED", [RAISED])))
    with pytest.raises(DryRunSucceeded) as dry:
        call(dryrun=True)
    assert dry.value.body() == {"message": "Request would have succeeded, but DryRun flag is set.",
                                "changeSet": [{"parameter": RAISED.parameter, "currentValue": "4",
                                               "requestedValue": "8"}]}


def test_delete_cluster_instances_of_a_missing_cluster(fake):
    fake(FakeProvider(exists=False))
    with pytest.raises(NotFoundError, match="please use the `force` param"):
        api.delete_cluster_instances(cluster_name="gone")
    assert api.delete_cluster_instances(cluster_name="gone", force=True) is None
    provider = fake(FakeProvider())
    api.delete_cluster_instances(cluster_name="c1")
    assert provider.calls == [("delete_cluster_instances", "c1")]


def test_stack_events_page(fake):
    fake(FakeProvider())
    body = api.get_cluster_stack_events(cluster_name="c1")
    assert body["nextToken"] == "100"
    assert body["events"] == [{"stackId": "arn:c1", "eventId": "e1", "stackName": "c1", "logicalResourceId": "c1",
                               "physicalResourceId": "arn:c1", "resourceType": "AWS::CloudFormation::Stack",
                               "timestamp": "t", "resourceStatus": "CREATE_COMPLETE"}]
    assert "nextToken" not in api.get_cluster_stack_events(cluster_name="c1", next_token="100")


def test_local_outcome_follows_the_plan_and_force():
    old = yaml.safe_load(CONFIG)
    lowered = copy.deepcopy(old)
    lowered["Scheduling"]["SlurmQueues"][0]["ComputeResources"][0]["MaxCount"] = 2
    plan = plan_update(CLUSTER, old, lowered, FleetFacts(compute_running=True))
    assert outcome(plan, force=False, dryrun=False).result == "REFUSED"
    forced = outcome(plan, force=True, dryrun=False)
    assert forced.result == "STARTED" and forced.changes[0].check == "ACTION NEEDED"
    assert outcome(plan, force=True, dryrun=True).result == "CHECKED"
    same = plan_update(CLUSTER, old, copy.deepcopy(old), FleetFacts(compute_running=True))
    assert outcome(same, force=False, dryrun=False).result == "NO_CHANGES"
    assert outcome(same, force=True, dryrun=False).result == "STARTED"


def test_stack_events_are_paged_newest_first_and_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(events, "KEEP", 10)
    log = events.StepEvents(tmp_path, "c1", "arn:c1", "UPDATE")
    for number in range(25):
        log.started(f"Step{number}", "do it")
    monkeypatch.setattr(events, "PAGE", 4)
    first, token = events.page(tmp_path, None)
    assert [e.logical_resource_id for e in first] == ["Step24", "Step23", "Step22", "Step21"]
    assert first[0].resource_status == "UPDATE_IN_PROGRESS" and first[0].resource_type == events.STEP_TYPE
    pages = [first]
    while token:
        found, token = events.page(tmp_path, token)
        pages.append(found)
    names = [e.logical_resource_id for page in pages for e in page]
    assert names == [f"Step{n}" for n in range(24, 14, -1)]  # the latest KEEP only
    assert len((tmp_path / events.EVENTS_FILE).read_text().splitlines()) <= 15


def test_local_stack_status_and_fleet_facts():
    from paracluster.plan.inventory import PlannedNode
    from paracluster.providers.local.host.state import ClusterState, Instance, NodeRecord, Observed
    from paracluster.providers.local.host.update import fleet_facts
    from paracluster.providers.local.host.views import stack_status

    def record(status: str, rolled_back: bool = False, fleet: str = "RUNNING") -> ClusterState:
        return ClusterState("c1", "us-east-1", "0.1.0", "t", observed=Observed(status=status, rolled_back=rolled_back,
                                                                               fleet_status=fleet))

    assert stack_status(record("UPDATE_FAILED", rolled_back=True)) == "UPDATE_ROLLBACK_COMPLETE"
    assert stack_status(record("UPDATE_FAILED")) == "UPDATE_ROLLBACK_FAILED"
    assert stack_status(record("CREATE_FAILED", rolled_back=True)) == "ROLLBACK_COMPLETE"
    assert stack_status(record("UPDATE_COMPLETE")) == "UPDATE_COMPLETE"
    running = record("UPDATE_COMPLETE")
    running.nodes = {
        "login-a-1": NodeRecord(PlannedNode("login-a-1", "LoginNode", "c5.large", pool="a"), 1, "10.0.0.3",
                                Instance("i-1", "running", "t")),
        "login-b-1": NodeRecord(PlannedNode("login-b-1", "LoginNode", "c5.large", pool="b"), 2, "10.0.0.4"),
    }
    facts = fleet_facts(running)
    assert facts.compute_running and facts.login_nodes == {"a": 1}
    assert facts.login_running("a") and not facts.login_running("b")
    assert not fleet_facts(record("UPDATE_COMPLETE", fleet="STOPPED")).compute_running
