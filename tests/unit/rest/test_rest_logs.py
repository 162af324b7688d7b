"""Cluster logs over HTTP: list_cluster_log_streams and get_cluster_log_events as ParallelCluster's API answers them,
on the same `api` calls as the CLI; and ParaCluster's own configuration endpoint the dashboard's update editor uses."""

from __future__ import annotations

from test_rest_operations import CONFIG, create

STREAMS = "/v3/clusters/alpha/logstreams"


def test_log_streams_of_a_cluster_in_parallelclusters_shape(client, provider):
    create(client)
    answer = client.get(STREAMS)
    assert answer.status_code == 200
    streams = answer.json()["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["head.i-head.slurmctld", "q1-st-c5-1.i-c1.slurmd"]
    assert set(streams[0]) == {"logStreamName", "creationTime", "firstEventTimestamp", "lastEventTimestamp",
                               "lastIngestionTime", "uploadSequenceToken", "logStreamArn"}
    assert "nextToken" not in answer.json()


def test_filters_become_the_nodes_stream_prefix_and_bad_ones_are_400(client, provider):
    create(client)
    head = client.get(STREAMS, params={"filters": "Name=node-type,Values=HeadNode"})
    assert [s["logStreamName"] for s in head.json()["logStreams"]] == ["head.i-head.slurmctld"]
    node = client.get(STREAMS, params={"filters": "Name=private-dns-name,Values=q1-st-c5-1"})
    assert [s["logStreamName"] for s in node.json()["logStreams"]] == ["q1-st-c5-1.i-c1.slurmd"]
    assert ("log_streams", "/aws/parallelcluster/alpha-202601020304", "q1-st-c5-1.", None) in provider.calls
    bad = client.get(STREAMS, params={"filters": "Name=node-type,Values=ComputeNode"})
    assert bad.status_code == 400
    assert bad.json() == {"message": "The only accepted value for Node Type filter is 'HeadNode'."}


def test_unknown_clusters_are_404_and_clusters_without_logging_400(client, provider):
    assert client.get("/v3/clusters/ghost/logstreams").status_code == 404
    create(client, name="nologs")
    answer = client.get("/v3/clusters/nologs/logstreams")
    assert answer.status_code == 400
    assert answer.json()["message"] == "CloudWatch logging is not enabled for cluster nologs."


def test_log_events_page_with_tokens_limits_and_time_ranges(client, provider):
    create(client)
    path = f"{STREAMS}/head.i-head.slurmctld"
    latest = client.get(path, params={"limit": 2})
    assert latest.status_code == 200
    body = latest.json()
    assert [e["message"] for e in body["events"]] == ["head.i-head.slurmctld line 1", "head.i-head.slurmctld line 2"]
    assert body["events"][0]["timestamp"] == "2026-01-02T03:05:02.000Z"
    earlier = client.get(path, params={"limit": 2, "nextToken": body["prevToken"]}).json()
    assert [e["message"] for e in earlier["events"]] == ["head.i-head.slurmctld line 0"]
    head = client.get(path, params={"startFromHead": "true", "limit": 1}).json()
    assert [e["message"] for e in head["events"]] == ["head.i-head.slurmctld line 0"]
    ranged = client.get(path, params={"startTime": "2026-01-02T03:05:02Z", "endTime": "2026-01-02T03:05:03Z"})
    assert [e["message"] for e in ranged.json()["events"]] == ["head.i-head.slurmctld line 1"]


def test_bad_event_requests_are_answered_as_parallelcluster_does(client, provider):
    create(client)
    path = f"{STREAMS}/head.i-head.slurmctld"
    reversed_range = client.get(path, params={"startTime": "2026-01-02T03:00:00Z", "endTime": "2026-01-01"})
    assert reversed_range.status_code == 400
    assert reversed_range.json()["message"] == "start_time filter must be earlier than end_time filter."
    assert client.get(path, params={"limit": 0}).json()["message"] == "'limit' must be a positive integer."
    assert client.get(path, params={"limit": "many"}).status_code == 400
    missing = client.get(f"{STREAMS}/nope")
    assert missing.status_code == 404 and missing.json()["message"] == "The specified log stream nope does not exist."


def test_the_configuration_endpoint_reads_describe_clusters_configuration_url(client, provider, tmp_path):
    create(client)
    stored = tmp_path / "cluster-config.yaml"
    stored.write_text(CONFIG)
    provider.clusters["alpha"].config_url = stored.as_uri()
    answer = client.get("/paracluster/v1/clusters/alpha/configuration")
    assert answer.status_code == 200 and answer.json() == {"clusterConfiguration": CONFIG}
    provider.clusters["alpha"].config_url = "s3://bucket/key"
    assert client.get("/paracluster/v1/clusters/alpha/configuration").status_code == 501
