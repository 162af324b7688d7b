"""ParaCluster's REST API against ParallelCluster's own OpenAPI file, with the local provider behind it.

Schemathesis checks every answer (status codes, content types, response schemas, Allow headers, that invalid
requests are rejected) of the operations ParaCluster offers: one valid request per operation on a real cluster, then
a bounded number of generated ones. The operations ParaCluster does not have yet answer 501, which ParallelCluster's
spec does not list, so they are left out of the run (tests/unit/rest checks their 501).

Two differences from the file are ParallelCluster's own: its server answers update_compute_fleet with 200 and the
fleet's status where its spec says 204 (a 204 cannot carry that body), so the run treats the 204 answer as 200's;
and a request that is valid by the schema may still be refused by ParallelCluster's validators (400: the config is
invalid; 412: a dry run would succeed), which the run accepts as answers to schema-valid data.
"""

from __future__ import annotations

import pytest
import yaml
from cluster_support import private_cli, wait_for
from hypothesis import HealthCheck, settings
from rest_support import HEAD_ONLY, SMALL, api_server, wait_for_image, wait_for_status, wait_until_gone
from support import CORPUS

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.config import SchemathesisConfig  # noqa: E402

SPEC = CORPUS / "pcluster" / "cli" / "src" / "pcluster" / "api" / "openapi" / "openapi.yaml"
if not SPEC.exists():
    pytest.skip(f"ParallelCluster's OpenAPI file is not at {SPEC}", allow_module_level=True)
OFFERED = ["list_clusters", "create_cluster", "delete_cluster", "describe_cluster", "describe_compute_fleet",
           "update_compute_fleet", "describe_cluster_instances", "build_image", "update_cluster",
           "delete_cluster_instances", "get_cluster_stack_events", "list_cluster_log_streams", "get_cluster_log_events",
           "list_images", "delete_image", "describe_image", "list_image_log_streams", "get_image_log_events",
           "get_image_stack_events", "list_official_images"]


class _SpecLoader(yaml.SafeLoader):
    """YAML as the spec means it: its example timestamps stay strings (JSON has no dates)."""


_SpecLoader.yaml_implicit_resolvers = {
    key: [entry for entry in resolvers if entry[0] != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_schema():
    spec = yaml.load(SPEC.read_text(), Loader=_SpecLoader)
    fleet = spec["paths"]["/v3/clusters/{clusterName}/computefleet"]["patch"]["responses"]
    fleet["200"] = fleet.pop("204")
    config = SchemathesisConfig.from_dict({"checks": {"positive_data_acceptance": {
        "expected-statuses": ["2xx", "400", "404", "409", "412"]}}})
    return schemathesis.openapi.from_dict(spec, config=config).include(operation_id=OFFERED)


schema = load_schema()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with private_cli(tmp_path_factory.mktemp("rest")) as cli, api_server(cli) as running:
        answer = running.client.post("/v3/clusters", json={"clusterName": "pclconf", "clusterConfiguration": SMALL})
        assert answer.status_code == 202, answer.text
        wait_for_status(running, "pclconf", "CREATE_COMPLETE")
        yield running


def call(server, path: str, method: str, status: int, **parts):
    """One request of ParallelCluster's spec, validated with every check; its answer."""
    case = schema[path][method].Case(**parts)
    response = case.call_and_validate(base_url=server.url, headers={"Authorization": f"Bearer {server.token}"})
    assert response.status_code == status, response.text
    return response.json()


def test_a_valid_request_of_each_operation_conforms(server):
    cluster = {"path_parameters": {"clusterName": "pclconf2"}}
    body = {"clusterName": "pclconf2", "clusterConfiguration": HEAD_ONLY}
    assert "validationMessages" not in call(server, "/v3/clusters", "POST", 412, body=body,
                                            query={"dryrun": True})
    created = call(server, "/v3/clusters", "POST", 202, body=body,
                   query={"region": "us-east-1", "validationFailureLevel": "ERROR", "rollbackOnFailure": True,
                          "suppressValidators": ["type:InstanceTypeValidator"]})
    assert created["cluster"]["clusterStatus"] == "CREATE_IN_PROGRESS"
    assert "already exists" in call(server, "/v3/clusters", "POST", 409, body=body)["message"]
    bad = call(server, "/v3/clusters", "POST", 400,
               body={"clusterName": "pclconf3", "clusterConfiguration": HEAD_ONLY.replace("Name: work", "Name: W_1")})
    assert bad["configurationValidationErrors"]

    described = call(server, "/v3/clusters/{clusterName}", "GET", 200, **cluster)
    assert described["clusterName"] == "pclconf2"
    wait_for_status(server, "pclconf2", "CREATE_COMPLETE")
    described = call(server, "/v3/clusters/{clusterName}", "GET", 200, query={"region": "us-east-1"}, **cluster)
    assert described["headNode"]["state"] == "running"
    listed = call(server, "/v3/clusters", "GET", 200, query={"clusterStatus": ["CREATE_COMPLETE"]})
    assert {"pclconf", "pclconf2"} <= {c["clusterName"] for c in listed["clusters"]}
    heads = call(server, "/v3/clusters/{clusterName}/instances", "GET", 200, query={"nodeType": "HeadNode"},
                 **cluster)
    assert [i["nodeType"] for i in heads["instances"]] == ["HeadNode"]
    computes = call(server, "/v3/clusters/{clusterName}/instances", "GET", 200,
                    path_parameters={"clusterName": "pclconf"}, query={"queueName": "work"})
    assert [i["queueName"] for i in computes["instances"]] == ["work"]

    streams = wait_for(lambda: call(server, "/v3/clusters/{clusterName}/logstreams", "GET", 200,
                                    query={"filters": ["Name=node-type,Values=HeadNode"]}, **cluster)["logStreams"],
                       what="the head node's log streams")
    assert all(stream["logStreamName"].startswith("ip-") for stream in streams)  # EC2's hostname, as in ParallelCluster
    page = call(server, "/v3/clusters/{clusterName}/logstreams/{logStreamName}", "GET", 200,
                path_parameters={"clusterName": "pclconf2", "logStreamName": streams[0]["logStreamName"]},
                query={"startFromHead": True, "limit": 5})
    assert 0 < len(page["events"]) <= 5 and page["nextToken"].startswith("f/")

    grown = {"clusterConfiguration": HEAD_ONLY.replace("MaxCount: 2", "MaxCount: 3")}
    planned = call(server, "/v3/clusters/{clusterName}", "PUT", 412, body=grown, query={"dryrun": True}, **cluster)
    assert [c["requestedValue"] for c in planned["changeSet"]] == ["3"]
    assert "No changes" in call(server, "/v3/clusters/{clusterName}", "PUT", 400,
                                body={"clusterConfiguration": HEAD_ONLY}, **cluster)["message"]
    events = call(server, "/v3/clusters/{clusterName}/stackevents", "GET", 200, **cluster)["events"]
    assert events[0]["resourceStatus"] == "CREATE_COMPLETE"
    call(server, "/v3/clusters/{clusterName}/instances", "DELETE", 202, **cluster)

    fleet = call(server, "/v3/clusters/{clusterName}/computefleet", "GET", 200, **cluster)
    assert fleet["status"] == "RUNNING"
    stopping = call(server, "/v3/clusters/{clusterName}/computefleet", "PATCH", 200,
                    body={"status": "STOP_REQUESTED"}, **cluster)
    assert stopping["status"] == "STOP_REQUESTED"


    deleted = call(server, "/v3/clusters/{clusterName}", "DELETE", 202, **cluster)
    assert deleted["cluster"]["clusterStatus"] == "DELETE_IN_PROGRESS"
    wait_until_gone(server, "pclconf2")
    assert call(server, "/v3/clusters/{clusterName}", "GET", 404, **cluster)["message"]
    assert call(server, "/v3/clusters/{clusterName}", "DELETE", 404, **cluster)["message"]


def test_a_valid_request_of_each_image_operation_conforms(server):
    """A build from the official image, then each image operation's answer."""
    image = {"path_parameters": {"imageId": "pclimage"}}
    official = call(server, "/v3/images/official", "GET", 200, query={"os": "alinux2023", "architecture": "x86_64"})
    config = f"Build:\n  InstanceType: c5.xlarge\n  ParentImage: {official['images'][0]['amiId']}\n"
    body = {"imageId": "pclimage", "imageConfiguration": config}
    assert call(server, "/v3/images/custom", "POST", 412, query={"dryrun": True}, body=body)["message"]
    started = call(server, "/v3/images/custom", "POST", 202, body=body,
                   query={"region": "us-east-1", "rollbackOnFailure": False, "validationFailureLevel": "ERROR"})
    assert started["image"]["imageBuildStatus"] == "BUILD_IN_PROGRESS"
    assert "already exists" in call(server, "/v3/images/custom", "POST", 409, body=body)["message"]
    wait_for_image(server, "pclimage")
    described = call(server, "/v3/images/custom/{imageId}", "GET", 200, query={"region": "us-east-1"}, **image)
    assert described["imageBuildStatus"] == "BUILD_COMPLETE"
    listed = call(server, "/v3/images/custom", "GET", 200, query={"imageStatus": "AVAILABLE"})
    assert [i["imageId"] for i in listed["images"]] == ["pclimage"]
    streams = call(server, "/v3/images/custom/{imageId}/logstreams", "GET", 200, **image)["logStreams"]
    events = call(server, "/v3/images/custom/{imageId}/logstreams/{logStreamName}", "GET", 200,
                  path_parameters={"imageId": "pclimage", "logStreamName": streams[0]["logStreamName"]},
                  query={"startFromHead": True, "limit": 5})
    assert len(events["events"]) == 5
    assert call(server, "/v3/images/custom/{imageId}/stackevents", "GET", 200, **image)["events"]
    deleted = call(server, "/v3/images/custom/{imageId}", "DELETE", 202, query={"force": False}, **image)
    assert deleted["image"]["imageBuildStatus"] == "DELETE_IN_PROGRESS"
    assert call(server, "/v3/images/custom/{imageId}", "GET", 404, **image)["message"]


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_generated_requests_conform(case, server):
    case.call_and_validate(base_url=server.url, headers={"Authorization": f"Bearer {server.token}"})
