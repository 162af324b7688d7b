"""The S3 endpoint on the local buckets: boto3 and `paracluster s3` see the same objects, across restarts."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from paracluster.errors import ClusterError
from paracluster.providers.local.standins import buckets
from paracluster.providers.local.standins.awsapi import endpoints, process
from paracluster.providers.local.standins.awsapi.s3 import uploads_dir


def s3_client(url: str, style: str | None = None):
    config = Config(s3={"addressing_style": style}) if style else None
    return boto3.client("s3", endpoint_url=url, config=config)


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "site.sh"
    path.write_text("#!/bin/sh\necho site\n")
    return path


@pytest.mark.parametrize("style", [None, "path"])  # None: what boto3 does by default with an endpoint URL
def test_objects_copied_with_paracluster_s3_are_served(urls, state_dir, source, style):
    buckets.put(state_dir, source, "s3://site-bucket/bootstrap/site.sh")
    client = s3_client(urls["s3"], style)
    assert client.get_object(Bucket="site-bucket", Key="bootstrap/site.sh")["Body"].read() == source.read_bytes()
    assert client.head_object(Bucket="site-bucket", Key="bootstrap/site.sh")["ContentLength"] == \
        source.stat().st_size
    listed = client.list_objects_v2(Bucket="site-bucket", Prefix="bootstrap/")
    assert [item["Key"] for item in listed["Contents"]] == ["bootstrap/site.sh"]
    assert [bucket["Name"] for bucket in client.list_buckets()["Buckets"]] == ["site-bucket"]


def test_objects_put_through_the_api_land_in_the_bucket_directory(urls, state_dir):
    client = s3_client(urls["s3"])
    client.create_bucket(Bucket="results")
    client.put_object(Bucket="results", Key="run1/out.json", Body=b'{"ok": true}')
    assert buckets.list_objects(state_dir, "s3://results/") == \
        [{"key": "run1/out.json", "size": 12, "url": "s3://results/run1/out.json"}]
    assert (buckets.prefix_path(state_dir, "s3://results/run1/") / "out.json").read_bytes() == b'{"ok": true}'
    listed = client.list_objects_v2(Bucket="results", Delimiter="/")
    assert [prefix["Prefix"] for prefix in listed["CommonPrefixes"]] == ["run1/"]


def test_missing_objects_and_buckets(urls, state_dir, source):
    """As in S3: a bucket must exist before objects go in (`paracluster s3 cp` or CreateBucket makes it)."""
    buckets.put(state_dir, source, "s3://site-bucket/site.sh")
    client = s3_client(urls["s3"])
    with pytest.raises(ClientError) as missing:
        client.head_object(Bucket="site-bucket", Key="absent")
    assert missing.value.response["Error"]["Code"] == "404"
    with pytest.raises(ClientError) as no_bucket:
        client.put_object(Bucket="no-such-bucket", Key="x", Body=b"x")
    assert no_bucket.value.response["Error"]["Code"] == "NoSuchBucket"


def test_multipart_uploads_stay_out_of_the_buckets_directory(urls, state_dir):
    client = s3_client(urls["s3"])
    client.create_bucket(Bucket="big")
    upload = client.create_multipart_upload(Bucket="big", Key="data.bin")
    part = b"a" * (5 * 1024 * 1024)
    etag = client.upload_part(Bucket="big", Key="data.bin", UploadId=upload["UploadId"], PartNumber=1,
                              Body=part)["ETag"]
    assert any(uploads_dir(state_dir).iterdir())
    assert [entry["bucket"] for entry in buckets.list_objects(state_dir)] == ["big"]
    client.complete_multipart_upload(Bucket="big", Key="data.bin", UploadId=upload["UploadId"],
                                     MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": 1}]})
    assert (buckets.prefix_path(state_dir, "s3://big/") / "data.bin").read_bytes() == part


def test_delete_objects_removes_files_and_empty_prefixes(urls, state_dir):
    client = s3_client(urls["s3"])
    client.create_bucket(Bucket="work")
    for key in ("logs/a.txt", "logs/b.txt", "keep.txt"):
        client.put_object(Bucket="work", Key=key, Body=b"x")
    answer = client.delete_objects(Bucket="work", Delete={"Objects": [{"Key": "logs/a.txt"}, {"Key": "logs/b.txt"},
                                                                      {"Key": "never-there"}]})
    assert sorted(item["Key"] for item in answer["Deleted"]) == ["logs/a.txt", "logs/b.txt", "never-there"]
    assert [item["key"] for item in buckets.list_objects(state_dir, "s3://work/")] == ["keep.txt"]
    assert not buckets.prefix_path(state_dir, "s3://work/logs/").exists()
    quiet = client.delete_objects(Bucket="work", Delete={"Objects": [{"Key": "keep.txt"}], "Quiet": True})
    assert "Deleted" not in quiet


def test_a_restarted_server_keeps_its_port_and_serves_the_same_data(urls, state_dir):
    client = s3_client(urls["s3"])
    client.create_bucket(Bucket="keep")
    client.put_object(Bucket="keep", Key="k", Body=b"kept")
    first = process.running(state_dir, "s3-127.0.0.1")
    assert endpoints.start("s3", state_dir, "127.0.0.1") == first  # running: kept as it is
    endpoints.stop("s3", state_dir, "127.0.0.1")
    assert process.running(state_dir, "s3-127.0.0.1") is None
    again = endpoints.start("s3", state_dir, "127.0.0.1")
    assert again["port"] == first["port"] and again["pid"] != first["pid"]
    assert client.get_object(Bucket="keep", Key="k")["Body"].read() == b"kept"


def test_a_server_that_cannot_bind_fails_with_its_log(state_dir):
    with pytest.raises(ClusterError, match=r"failed to start the s3 server on 192\.0\.2\.1:0: .*Cannot assign"):
        endpoints.start("s3", state_dir, "192.0.2.1")  # TEST-NET-1: never an address of this host
    assert process.running(state_dir, "s3-192.0.2.1") is None


def test_a_stale_record_is_not_taken_for_a_running_server(state_dir):
    record = process.record_path(state_dir, "s3-127.0.0.1")
    record.write_text(json.dumps({"pid": 1, "address": "127.0.0.1", "port": 1}))  # PID 1 is not our server
    assert process.running(state_dir, "s3-127.0.0.1") is None
