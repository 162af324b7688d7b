"""export-cluster-logs, log-groups and diagnose through `api` on the in-memory provider: the archive's layout and
content, a deleted cluster's retained group, the time range and filters, and diagnose's report and bundle."""

from __future__ import annotations

import json
import tarfile

import pytest

from paracluster import api
from paracluster.errors import BadRequestError, NotFoundError
from paracluster.records import LogGroupRecord
from test_rest_operations import create


def members(path) -> dict[str, str]:
    with tarfile.open(path) as archive:
        return {member.name.split("/", 1)[1]: archive.extractfile(member).read().decode()
                for member in archive.getmembers() if member.isfile()}


def test_an_export_holds_each_stream_as_cloudwatch_exports_it_and_the_stack_events(client, provider, tmp_path):
    create(client)
    answer = api.export_cluster_logs(cluster_name="alpha", output_file=str(tmp_path / "out" / "logs.tar.gz"))
    assert answer == {"path": str(tmp_path / "out" / "logs.tar.gz")}
    found = members(tmp_path / "out" / "logs.tar.gz")
    assert set(found) == {"cloudwatch-logs/head.i-head.slurmctld/000000", "cloudwatch-logs/q1-st-c5-1.i-c1.slurmd/000000",
                          "alpha-cfn-events"}
    assert found["cloudwatch-logs/head.i-head.slurmctld/000000"].splitlines()[0] == \
        "2026-01-02T03:05:01.000Z head.i-head.slurmctld line 0"
    assert len(json.loads(found["alpha-cfn-events"])) == 3
    assert (tmp_path / "out" / "logs.tar.gz").stat().st_mode & 0o777 == 0o600


def test_filters_and_time_ranges_narrow_the_export_and_an_empty_one_is_refused(client, provider, tmp_path):
    create(client)
    api.export_cluster_logs(cluster_name="alpha", output_file=str(tmp_path / "a.tar.gz"),
                            filters=["Name=node-type,Values=HeadNode"], start_time="2026-01-02T03:05:02Z",
                            end_time="2026-01-02T03:05:03Z")
    found = members(tmp_path / "a.tar.gz")
    assert found["cloudwatch-logs/head.i-head.slurmctld/000000"] == \
        "2026-01-02T03:05:02.000Z head.i-head.slurmctld line 1\n"
    assert not any("slurmd" in name for name in found)
    with pytest.raises(BadRequestError, match=r"No log events in the log group /aws/parallelcluster/alpha-"
                                              r"202601020304 in interval starting at 2020"):
        api.export_cluster_logs(cluster_name="alpha", output_file=str(tmp_path / "b.tar.gz"),
                                start_time="2020-01-01", end_time="2020-01-02")
    with pytest.raises(BadRequestError, match="needs --output-file"):
        api.export_cluster_logs(cluster_name="alpha")


def test_a_deleted_clusters_retained_group_exports_without_stack_events(client, provider, tmp_path):
    provider.retained = [LogGroupRecord("/aws/parallelcluster/gone-202601020304", "gone", "us-east-1",
                                        "2026-01-02T03:04:05.000Z", 180, "Retain",
                                        cluster_deleted_time="2026-01-03T00:00:00.000Z")]
    api.export_cluster_logs(cluster_name="gone", output_file=str(tmp_path / "gone.tar.gz"))
    found = members(tmp_path / "gone.tar.gz")
    assert "cloudwatch-logs/head.i-head.slurmctld/000000" in found and "gone-cfn-events" not in found
    with pytest.raises(BadRequestError, match="HeadNode instance not available"):
        api.export_cluster_logs(cluster_name="gone", output_file=str(tmp_path / "x.tar.gz"),
                                filters=["Name=node-type,Values=HeadNode"])
    listed = api.log_groups()["logGroups"]
    assert listed == [{"logGroupName": "/aws/parallelcluster/gone-202601020304", "clusterName": "gone",
                       "region": "us-east-1", "creationTime": "2026-01-02T03:04:05.000Z", "storedBytes": 0,
                       "deletionPolicy": "Retain", "retentionInDays": 180,
                       "clusterDeletedTime": "2026-01-03T00:00:00.000Z"}]
    api.delete_log_group(log_group_name="/aws/parallelcluster/gone-202601020304")
    with pytest.raises(NotFoundError, match="left no log group"):
        api.export_cluster_logs(cluster_name="gone", output_file=str(tmp_path / "y.tar.gz"))


def test_diagnose_reports_every_check_and_bundles_the_report_facts_and_logs(client, provider, tmp_path):
    create(client)
    body = api.diagnose(cluster_name="alpha", output_file=str(tmp_path / "diag.tar.gz"))
    assert body["result"] == "PASSED" and body["bundle"] == str(tmp_path / "diag.tar.gz")
    assert {check["status"] for check in body["checks"]} == {"PASSED", "SKIPPED"}
    found = members(tmp_path / "diag.tar.gz")
    assert json.loads(found["diagnosis.json"]) == body
    assert found["diagnosis.txt"].startswith("Diagnosis of cluster alpha at ")
    assert json.loads(found["facts.json"])["cluster"] == "alpha"
    assert "cloudwatch-logs/q1-st-c5-1.i-c1.slurmd/000000" in found and "alpha-cfn-events" in found
    assert not any("MUNGE:" in text for text in found.values())  # no munge credential leaves the nodes


def test_without_an_output_file_the_archive_goes_to_the_bucket(client, provider, tmp_path):
    create(client)
    put = []

    class Buckets:
        def put(self, source, url):
            put.append((url, members(source)))
            return [url]

    provider.services = type("Services", (), {"buckets": Buckets()})()
    answer = api.export_cluster_logs(cluster_name="alpha", bucket="site-logs", bucket_prefix="exports/")
    [(url, found)] = put
    assert answer == {"url": url} and url.startswith("s3://site-logs/exports/alpha-logs-") and url.endswith(".tar.gz")
    assert "cloudwatch-logs/head.i-head.slurmctld/000000" in found
