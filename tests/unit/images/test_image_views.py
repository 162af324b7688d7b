"""ParallelCluster's JSON of images: a built image from its AMI, one building or failed from its stack."""

from __future__ import annotations

from paracluster.images.records import ImageRecord, LogStreamRecord
from paracluster.images.views import STATUS_FILTERS, image_description, image_summary, log_stream

BUILDING = ImageRecord("img", "us-east-1", "0.1.0", "BUILD_IN_PROGRESS", "CREATE_IN_PROGRESS", "arn:stack",
                       "2026-01-02T03:04:05.000Z", stack_tags={"parallelcluster:image_id": "img"},
                       builder_status="BUILDING", logs_arn="arn:logs", config_url="file:///c.yaml",
                       ami_id="ami-0123456789abcdef0", progress="tool / build / Install")
BUILT = ImageRecord("img", "us-east-1", "0.1.0", "BUILD_COMPLETE", None, None, "2026-01-02T03:04:05.000Z",
                    builder_status="AVAILABLE", config_url="file:///c.yaml", ami_id="ami-0123456789abcdef0",
                    ami_name="img 2026-01-02T03-04-09.000Z", ami_state="AVAILABLE", architecture="x86_64",
                    description="a layer", tags={"team": "hpc"}, creation_time="2026-01-02T03:04:09.000Z")


def test_an_image_building_is_described_from_its_stack_with_the_step_under_way():
    body = image_description(BUILDING)
    assert body == {
        "imageConfiguration": {"url": "file:///c.yaml"}, "imageId": "img", "imageBuildStatus": "BUILD_IN_PROGRESS",
        "imageBuildLogsArn": "arn:logs", "imagebuilderImageStatus": "BUILDING",
        "cloudformationStackStatus": "CREATE_IN_PROGRESS", "cloudformationStackArn": "arn:stack",
        "cloudformationStackCreationTime": "2026-01-02T03:04:05.000Z",
        "cloudformationStackTags": [{"key": "parallelcluster:image_id", "value": "img"}], "region": "us-east-1",
        "version": "0.1.0", "progress": "tool / build / Install",
    }
    assert image_summary(BUILDING) == {"imageId": "img", "imageBuildStatus": "BUILD_IN_PROGRESS",
                                       "cloudformationStackStatus": "CREATE_IN_PROGRESS",
                                       "cloudformationStackArn": "arn:stack", "region": "us-east-1",
                                       "version": "0.1.0"}


def test_a_built_image_is_described_from_its_ami():
    body = image_description(BUILT)
    assert body["ec2AmiInfo"] == {"amiName": "img 2026-01-02T03-04-09.000Z", "amiId": "ami-0123456789abcdef0",
                                  "state": "AVAILABLE", "tags": [{"key": "team", "value": "hpc"}],
                                  "architecture": "x86_64", "description": "a layer"}
    assert body["creationTime"] == "2026-01-02T03:04:09.000Z"
    assert not any(key.startswith("cloudformation") for key in body)
    assert image_summary(BUILT)["ec2AmiInfo"] == {"amiId": "ami-0123456789abcdef0"}


def test_status_filters_and_log_streams():
    assert STATUS_FILTERS["FAILED"] == ("BUILD_FAILED", "DELETE_FAILED")
    stream = log_stream(LogStreamRecord("0.1.0/1", "arn:s", "t0", "t1", "t2", "t2"))
    assert stream == {"logStreamName": "0.1.0/1", "creationTime": "t0", "firstEventTimestamp": "t1",
                      "lastEventTimestamp": "t2", "lastIngestionTime": "t2", "logStreamArn": "arn:s"}
