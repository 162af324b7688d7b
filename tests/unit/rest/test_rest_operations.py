"""ParallelCluster's /v3 operations over HTTP: the same `api` calls as the CLI, ParallelCluster's codes and bodies."""

from __future__ import annotations

import pytest

from paracluster import api
from paracluster.rest.operations import OPERATIONS
from support import MINIMAL_CLUSTER

CONFIG = "Region: us-east-1\n" + MINIMAL_CLUSTER
# ParallelCluster's spec: every operation's method and path (openapi.yaml of 3.12).
SPEC_OPERATIONS = {
    "list_clusters": ("GET", "/v3/clusters"), "create_cluster": ("POST", "/v3/clusters"),
    "delete_cluster": ("DELETE", "/v3/clusters/{clusterName}"),
    "describe_cluster": ("GET", "/v3/clusters/{clusterName}"),
    "update_cluster": ("PUT", "/v3/clusters/{clusterName}"),
    "describe_compute_fleet": ("GET", "/v3/clusters/{clusterName}/computefleet"),
    "update_compute_fleet": ("PATCH", "/v3/clusters/{clusterName}/computefleet"),
    "delete_cluster_instances": ("DELETE", "/v3/clusters/{clusterName}/instances"),
    "describe_cluster_instances": ("GET", "/v3/clusters/{clusterName}/instances"),
    "list_cluster_log_streams": ("GET", "/v3/clusters/{clusterName}/logstreams"),
    "get_cluster_log_events": ("GET", "/v3/clusters/{clusterName}/logstreams/{logStreamName}"),
    "get_cluster_stack_events": ("GET", "/v3/clusters/{clusterName}/stackevents"),
    "list_images": ("GET", "/v3/images/custom"), "build_image": ("POST", "/v3/images/custom"),
    "delete_image": ("DELETE", "/v3/images/custom/{imageId}"),
    "describe_image": ("GET", "/v3/images/custom/{imageId}"),
    "list_image_log_streams": ("GET", "/v3/images/custom/{imageId}/logstreams"),
    "get_image_log_events": ("GET", "/v3/images/custom/{imageId}/logstreams/{logStreamName}"),
    "get_image_stack_events": ("GET", "/v3/images/custom/{imageId}/stackevents"),
    "list_official_images": ("GET", "/v3/images/official"),
}


def create(client, name="alpha", query="", config=CONFIG):
    return client.post(f"/v3/clusters{query}", json={"clusterName": name, "clusterConfiguration": config})


def test_the_table_has_every_operation_of_parallelclusters_spec_at_its_path():
    assert {op_id: (op.method, op.path) for op_id, op in OPERATIONS.items()} == SPEC_OPERATIONS


def test_every_operation_of_parallelclusters_spec_is_served():
    assert [op_id for op_id, operation in OPERATIONS.items() if operation.call is None] == []


def test_an_operation_without_a_call_answers_501_with_a_sentence(monkeypatch, tokens):
    import dataclasses

    from conftest import TestClient
    from paracluster.rest.app import create_app

    monkeypatch.setitem(OPERATIONS, "list_official_images",
                        dataclasses.replace(OPERATIONS["list_official_images"], call=None))
    token = tokens.create(name="test")["token"]
    with TestClient(create_app(tokens), headers={"Authorization": f"Bearer {token}"}) as client:
        answer = client.get("/v3/images/official")
    assert answer.status_code == 501
    assert set(answer.json()) == {"message"} and "list_official_images" in answer.json()["message"]


def test_create_answers_202_with_the_cluster_and_calls_the_provider_through_api(client, provider):
    answer = create(client, query="?region=us-east-1&rollbackOnFailure=false")
    assert answer.status_code == 202
    assert answer.json()["cluster"]["clusterName"] == "alpha"
    assert answer.json()["cluster"]["clusterStatus"] == "CREATE_IN_PROGRESS"
    assert provider.calls == [("create_cluster", "alpha", "us-east-1", False)]


def test_describe_list_instances_and_fleet_answer_what_api_answers(client, provider):
    create(client)
    assert client.get("/v3/clusters/alpha").json() == api.describe_cluster(cluster_name="alpha")
    assert client.get("/v3/clusters").json() == api.list_clusters()
    assert client.get("/v3/clusters/alpha/instances").json() == api.describe_cluster_instances(cluster_name="alpha")
    assert client.get("/v3/clusters/alpha/computefleet").json() == api.describe_compute_fleet(cluster_name="alpha")


def test_delete_answers_202_and_an_unknown_cluster_404(client, provider):
    create(client)
    answer = client.delete("/v3/clusters/alpha")
    assert answer.status_code == 202 and answer.json()["cluster"]["clusterStatus"] == "DELETE_IN_PROGRESS"
    missing = client.delete("/v3/clusters/nosuch")
    assert missing.status_code == 404 and "nosuch" in missing.json()["message"]
    assert client.get("/v3/clusters/nosuch").status_code == 404
    assert client.get("/v3/clusters/nosuch/computefleet").status_code == 404


def test_a_name_in_use_is_409(client):
    create(client)
    again = create(client)
    assert again.status_code == 409 and "already exists" in again.json()["message"]


def test_an_invalid_config_is_400_with_each_validation_error_and_its_line(client, provider):
    answer = create(client, config=CONFIG.replace("Name: queue1", "Name: Queue_1"))
    assert answer.status_code == 400
    body = answer.json()
    assert body["message"] == "Invalid cluster configuration."
    errors = body["configurationValidationErrors"]
    assert any(e["level"] == "ERROR" and "Queue_1" in e["message"] and "line" in e["message"] for e in errors)
    assert provider.calls == []


def test_a_dry_run_that_would_succeed_is_412_as_in_parallelcluster(client, provider):
    answer = create(client, query="?dryrun=true")
    assert answer.status_code == 412
    assert answer.json()["message"] == "Request would have succeeded, but DryRun flag is set."
    assert provider.calls == []


def test_validation_parameters_reach_the_validator(client):
    # A removed OS is a WARNING: it passes at the default failure level (ERROR) and fails at WARNING.
    warned = CONFIG.replace("alinux2023", "alinux2")
    assert create(client, query="?dryrun=true", config=warned).status_code == 412
    strict = create(client, query="?dryrun=true&validationFailureLevel=WARNING", config=warned)
    assert strict.status_code == 400
    assert any(e["level"] == "WARNING" for e in strict.json()["configurationValidationErrors"])


def test_a_region_that_conflicts_with_the_config_is_400(client):
    answer = create(client, query="?region=eu-west-1")
    assert answer.status_code == 400 and "conflicts" in answer.json()["message"]


def test_the_list_filters_by_status(client, provider):
    create(client, "alpha")
    create(client, "beta")
    client.delete("/v3/clusters/beta")
    names = lambda query: [c["clusterName"] for c in client.get(f"/v3/clusters{query}").json()["clusters"]]
    assert names("?clusterStatus=DELETE_IN_PROGRESS") == ["beta"]
    assert names("?clusterStatus=CREATE_IN_PROGRESS&clusterStatus=DELETE_IN_PROGRESS") == ["alpha", "beta"]
    assert names("") == ["alpha", "beta"]


def test_instances_filter_by_node_type_and_of_an_unknown_cluster_are_none(client):
    create(client)
    heads = client.get("/v3/clusters/alpha/instances?nodeType=HeadNode").json()["instances"]
    assert [i["instanceId"] for i in heads] == ["i-head"]
    # ParallelCluster lists instances by tag: an unknown cluster has none (its spec has no 404 here).
    unknown = client.get("/v3/clusters/nosuch/instances")
    assert unknown.status_code == 200 and unknown.json() == {"instances": []}


def test_update_compute_fleet_answers_the_status_and_a_conflict_is_400(client):
    create(client)
    # ParallelCluster reports a fleet that cannot change now as a bad request (its spec has no 409 here).
    conflict = client.patch("/v3/clusters/alpha/computefleet", json={"status": "START_REQUESTED"})
    assert conflict.status_code == 400 and "not possible now" in conflict.json()["message"]
    stop = client.patch("/v3/clusters/alpha/computefleet", json={"status": "STOP_REQUESTED"})
    assert stop.status_code == 200 and stop.json()["status"] == "STOP_REQUESTED"
    bad = client.patch("/v3/clusters/alpha/computefleet", json={"status": "PAUSED"})
    assert bad.status_code == 400 and "'status'" in bad.json()["message"]


@pytest.mark.parametrize("request_args, fragment", [
    (("GET", "/v3/clusters?clusterStatus=NOPE"), "use one of CREATE_IN_PROGRESS"),
    (("GET", "/v3/clusters?clusterStatus=CREATE_FAILED&clusterStatus=CREATE_FAILED"), "give each value once"),
    (("POST", "/v3/clusters?dryrun=maybe"), "use true or false"),
    (("POST", "/v3/clusters?suppressValidators=NameValidator"), "does not match"),
    (("GET", "/v3/clusters/9bad"), "'clusterName' is '9bad'"),
    (("GET", "/v3/clusters/alpha/instances?nodeType=Head"), "use one of HeadNode"),
    (("GET", "/v3/clusters?region=a&region=b"), "give it once"),
])
def test_bad_parameters_are_400_naming_the_parameter(client, request_args, fragment):
    method, path = request_args
    answer = client.request(method, path, json={"clusterName": "alpha", "clusterConfiguration": CONFIG})
    assert answer.status_code == 400
    assert fragment in answer.json()["message"]


@pytest.mark.parametrize("body, fragment", [
    (None, "request body is required"),
    (b"{nope", "not valid JSON"),
    (b"[1]", "JSON list"),
    (b'{"clusterName": "alpha"}', "'clusterConfiguration'"),
    (b'{"clusterName": "_x", "clusterConfiguration": "a"}', "'clusterName'"),
    (b'{"clusterName": 7, "clusterConfiguration": "a"}', "'clusterName'"),
])
def test_bad_bodies_are_400_naming_the_field(client, body, fragment):
    answer = client.post("/v3/clusters", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert fragment in answer.json()["message"]


def test_an_unexpected_failure_is_500_with_a_sentence_not_a_traceback(client, provider, monkeypatch):
    def broken(region):
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(provider, "list_clusters", broken)
    answer = client.get("/v3/clusters")
    assert answer.status_code == 500
    assert answer.json() == {"message": "failed to list clusters: RuntimeError: the disk is on fire; see the API "
                                        "server's log"}


def test_unknown_paths_and_methods_are_json_errors_with_allow(client):
    missing = client.get("/v4/clusters")
    assert missing.status_code == 404 and "/v4/clusters" in missing.json()["message"]
    wrong = client.request("TRACE", "/v3/clusters/alpha")
    assert wrong.status_code == 405 and set(wrong.headers["allow"].split(", ")) == {"DELETE", "GET", "PUT"}
    assert "TRACE" in wrong.json()["message"]


def test_update_answers_202_with_the_change_set_and_refusals_400_with_the_reasons(client, provider):
    create(client)
    grown = CONFIG.replace("          InstanceType: c5.xlarge\n", "          InstanceType: c5.xlarge\n          MaxCount: 20\n")
    assert grown != CONFIG
    dry = client.put("/v3/clusters/alpha?dryrun=true", json={"clusterConfiguration": grown})
    assert dry.status_code == 412 and dry.json()["changeSet"][0]["requestedValue"] == "20"
    answer = client.put("/v3/clusters/alpha", json={"clusterConfiguration": grown})
    assert answer.status_code == 202
    assert answer.json()["cluster"]["clusterStatus"] == "UPDATE_IN_PROGRESS"
    assert answer.json()["changeSet"] == [{"parameter": "Scheduling.SlurmQueues[queue1].ComputeResources[cr1].MaxCount",
                                           "currentValue": "10", "requestedValue": "20"}]
    refused = client.put("/v3/clusters/alpha", json={"clusterConfiguration": grown.replace("c5.xlarge", "c5.9xlarge", 1)})
    assert refused.status_code == 400
    assert refused.json()["updateValidationErrors"][0]["parameter"] == "HeadNode.InstanceType"
    same = client.put("/v3/clusters/alpha", json={"clusterConfiguration": CONFIG})
    assert same.status_code == 400 and "No changes" in same.json()["message"]
    assert client.put("/v3/clusters/nosuch", json={"clusterConfiguration": grown}).status_code == 404
    assert ("update_cluster", "alpha", "us-east-1", False, True) in provider.calls


def test_delete_instances_answers_202_and_force_forgives_an_unknown_cluster(client, provider):
    create(client)
    assert client.delete("/v3/clusters/alpha/instances?region=us-east-1").status_code == 202
    assert ("delete_cluster_instances", "alpha", "us-east-1") in provider.calls
    assert client.delete("/v3/clusters/nosuch/instances").status_code == 404
    assert client.delete("/v3/clusters/nosuch/instances?force=true").status_code == 202


def test_stack_events_come_in_pages(client, provider):
    create(client)
    first = client.get("/v3/clusters/alpha/stackevents").json()
    assert [e["eventId"] for e in first["events"]] == ["e0", "e1"] and first["nextToken"] == "2"
    second = client.get("/v3/clusters/alpha/stackevents?nextToken=2").json()
    assert [e["eventId"] for e in second["events"]] == ["e2"] and "nextToken" not in second
