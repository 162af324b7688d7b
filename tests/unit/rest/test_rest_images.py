"""ParallelCluster's image operations over HTTP: the same `api_images` calls as the CLI, ParallelCluster's codes."""

from __future__ import annotations

import pytest
from conftest import MemoryProvider

from paracluster import api, api_images
from paracluster.errors import BadRequestError, ConflictError, NotFoundError
from paracluster.images.records import ImageRecord, LogEventRecord, LogStreamRecord, OfficialImageRecord
from paracluster.records import StackEvent

OFFICIAL = OfficialImageRecord("ami-0aaaaaaaaaaaaaaaa", "alinux2023", "x86_64",
                               "aws-parallelcluster-0.1.0-amzn2023-hvm-x86_64-paracluster-local", "0.1.0")
CONFIG = f"Build:\n  InstanceType: c5.xlarge\n  ParentImage: {OFFICIAL.ami_id}\n"
T0 = "2026-01-02T03:04:05.000Z"


class MemoryBuckets:
    """Buckets as a dict of URL -> bytes (export-image-logs goes through one)."""

    def __init__(self):
        self.objects: dict[str, bytes] = {}

    def list(self, url):
        if not url.startswith("s3://logs-bucket/"):
            raise NotFoundError(f"bucket of {url} does not exist")
        return [{"url": key} for key in self.objects if key.startswith(url)]

    def put(self, source, url):
        files = [path for path in source.rglob("*") if path.is_file()] if source.is_dir() else [source]
        for path in files:
            key = url + str(path.relative_to(source)) if source.is_dir() else url
            self.objects[key] = path.read_bytes()
        return url


class MemoryImages(MemoryProvider):
    """The memory provider with images: builds finish when `finish` is called; `users` are images in use."""

    def __init__(self):
        super().__init__()
        self.images: dict[str, ImageRecord] = {}
        self.users: set[str] = set()
        self.services = type("Services", (), {"buckets": MemoryBuckets()})()

    def validate_image(self, image_id, config, region, suppress):
        return []

    def build_image(self, image_id, config_text, region, rollback_on_failure):
        self.calls.append(("build_image", image_id, region, rollback_on_failure))
        if image_id in self.images:
            raise ConflictError(f"ParallelCluster image {image_id} already exists.")
        self.images[image_id] = ImageRecord(image_id, region or "us-east-1", "0.1.0", "BUILD_IN_PROGRESS",
                                            "CREATE_IN_PROGRESS", f"arn:test:image/{image_id}", T0,
                                            builder_status="BUILDING", ami_id="ami-0bbbbbbbbbbbbbbbb")
        return self.images[image_id]

    def finish(self, image_id, status="BUILD_COMPLETE"):
        record = self.images[image_id]
        record.build_status, record.ami_state, record.creation_time = status, "AVAILABLE", T0
        record.stack_status = None if status == "BUILD_COMPLETE" else "CREATE_FAILED"

    def _image(self, image_id, region):
        record = self.images.get(image_id)
        if record is None or (region and record.region != region):
            raise NotFoundError(f"No image or stack associated with ParallelCluster image id: {image_id}.")
        return record

    def describe_image(self, image_id, region):
        return self._image(image_id, region)

    def list_images(self, region):
        return [record for record in self.images.values() if region is None or record.region == region]

    def delete_image(self, image_id, region, force):
        record = self._image(image_id, region)
        if image_id in self.users and not force:
            raise BadRequestError(f"Unable to delete image and stack: Image {image_id} is used by instances ['i-1'].")
        del self.images[image_id]
        record.build_status = "DELETE_IN_PROGRESS"
        return record

    def official_images(self, region, os, architecture):
        if os not in (None, "alinux2023", "ubuntu2204"):
            raise BadRequestError(f"{os} is not one of ['alinux2023', 'ubuntu2204']")
        return [OFFICIAL] if os in (None, "alinux2023") and architecture in (None, "x86_64") else []

    def image_log_streams(self, image_id, region):
        self._image(image_id, region)
        return [LogStreamRecord("0.1.0/1", "arn:test:log-stream", T0, T0, T0, T0)]

    def image_log_events(self, image_id, region, stream):
        self._image(image_id, region)
        if stream != "0.1.0/1":
            raise NotFoundError(f"The specified log stream {stream} does not exist.")
        return [LogEventRecord(f"2026-01-02T03:04:{second:02d}.000Z", f"line {second}") for second in range(10)]

    def image_stack_events(self, image_id, region, next_token):
        self._image(image_id, region)
        return [StackEvent("e1", f"arn:test:image/{image_id}", image_id, "BuildPhase", "p", "ParaCluster::Local::Step",
                           T0, "CREATE_IN_PROGRESS", "run the build phases")], None


@pytest.fixture
def images(monkeypatch):
    memory = MemoryImages()
    monkeypatch.setattr(api, "provider", lambda name=None: memory)
    return memory


def build(client, image_id="img-1", query=""):
    return client.post(f"/v3/images/custom{query}", json={"imageId": image_id, "imageConfiguration": CONFIG})


def test_build_answers_202_then_409_for_an_id_in_use(client, images):
    answer = build(client, query="?rollbackOnFailure=true&region=us-east-1")
    assert answer.status_code == 202
    assert answer.json() == {"image": {"imageId": "img-1", "imageBuildStatus": "BUILD_IN_PROGRESS",
                                       "cloudformationStackStatus": "CREATE_IN_PROGRESS",
                                       "cloudformationStackArn": "arn:test:image/img-1", "region": "us-east-1",
                                       "version": "0.1.0"}}
    assert images.calls == [("build_image", "img-1", "us-east-1", True)]
    again = build(client)
    assert again.status_code == 409 and again.json() == {"message": "ParallelCluster image img-1 already exists."}


def test_build_dry_run_is_412_and_a_bad_config_400_with_its_errors(client, images):
    assert build(client, query="?dryrun=true").status_code == 412
    bad = client.post("/v3/images/custom", json={"imageId": "img-2", "imageConfiguration": "Build: {}\n"})
    assert bad.status_code == 400
    assert bad.json()["message"] == "Invalid image configuration."
    assert {e["type"] for e in bad.json()["configurationValidationErrors"]} == {"ImageSchemaValidator"}
    assert images.calls == []


def test_describe_and_list_answer_what_api_images_answers(client, images):
    build(client)
    assert client.get("/v3/images/custom/img-1").json() == api_images.describe_image(image_id="img-1")
    assert client.get("/v3/images/custom?imageStatus=PENDING").json()["images"][0]["imageId"] == "img-1"
    assert client.get("/v3/images/custom?imageStatus=AVAILABLE").json() == {"images": []}
    images.finish("img-1")
    described = client.get("/v3/images/custom/img-1").json()
    assert (described["imageBuildStatus"], described["ec2AmiInfo"]["amiId"]) == ("BUILD_COMPLETE",
                                                                                 "ami-0bbbbbbbbbbbbbbbb")
    assert "cloudformationStackStatus" not in described  # a built image is described from its AMI
    listed = client.get("/v3/images/custom?imageStatus=AVAILABLE").json()["images"]
    assert listed == [{"imageId": "img-1", "imageBuildStatus": "BUILD_COMPLETE",
                       "ec2AmiInfo": {"amiId": "ami-0bbbbbbbbbbbbbbbb"}, "region": "us-east-1", "version": "0.1.0"}]


def test_list_needs_a_known_image_status(client, images):
    assert client.get("/v3/images/custom").status_code == 400
    assert client.get("/v3/images/custom?imageStatus=DONE").status_code == 400


def test_delete_is_202_refused_while_in_use_unless_forced_and_404_when_unknown(client, images):
    build(client)
    images.finish("img-1")
    images.users.add("img-1")
    refused = client.delete("/v3/images/custom/img-1")
    assert refused.status_code == 400 and "is used by instances" in refused.json()["message"]
    forced = client.delete("/v3/images/custom/img-1?force=true")
    assert forced.status_code == 202 and forced.json()["image"]["imageBuildStatus"] == "DELETE_IN_PROGRESS"
    missing = client.delete("/v3/images/custom/img-1")
    assert missing.status_code == 404
    assert missing.json() == {"message": "No image or stack associated with ParallelCluster image id: img-1."}


def test_official_images_with_filters(client, images):
    assert client.get("/v3/images/official").json() == {"images": [{
        "architecture": "x86_64", "amiId": OFFICIAL.ami_id, "name": OFFICIAL.name, "os": "alinux2023",
        "version": "0.1.0"}]}
    assert client.get("/v3/images/official?architecture=arm64").json() == {"images": []}
    assert client.get("/v3/images/official?os=centos7").status_code == 400


def test_log_streams_events_pages_and_stack_events(client, images):
    build(client)
    streams = client.get("/v3/images/custom/img-1/logstreams").json()["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["0.1.0/1"]
    path = "/v3/images/custom/img-1/logstreams/0.1.0%2F1"
    latest = client.get(f"{path}?limit=3").json()
    assert [e["message"] for e in latest["events"]] == ["line 7", "line 8", "line 9"]
    earlier = client.get(f"{path}?limit=3&nextToken={latest['prevToken']}").json()
    assert [e["message"] for e in earlier["events"]] == ["line 4", "line 5", "line 6"]
    head = client.get(f"{path}?startFromHead=true&limit=2&startTime=2026-01-02T03:04:05Z").json()
    assert [e["message"] for e in head["events"]] == ["line 5", "line 6"]
    backwards = client.get(f"{path}?startTime=2026-01-02T03:04:09Z&endTime=2026-01-02T03:04:05Z")
    assert backwards.status_code == 400 and "earlier than end_time" in backwards.json()["message"]
    assert client.get("/v3/images/custom/img-1/logstreams/nosuch").status_code == 404
    events = client.get("/v3/images/custom/img-1/stackevents").json()["events"]
    assert [(e["logicalResourceId"], e["resourceStatus"]) for e in events] == [("BuildPhase", "CREATE_IN_PROGRESS")]
    assert client.get("/v3/images/custom/nosuch/stackevents").status_code == 404


def test_export_image_logs_writes_the_streams_and_stack_events_into_an_archive(images, tmp_path):
    import tarfile

    images.build_image("img-1", CONFIG, "us-east-1", False)
    archive = tmp_path / "logs.tar.gz"
    answer = api_images.export_image_logs(image_id="img-1", bucket="logs-bucket", output_file=str(archive),
                                          start_time="2026-01-02T03:04:08Z")
    assert answer == {"path": str(archive)}
    with tarfile.open(archive) as tar:
        names = {name.split("/", 1)[1]: tar.extractfile(name).read().decode() for name in tar.getnames()
                 if tar.getmember(name).isfile()}
    assert names["0.1.0/1"] == "2026-01-02T03:04:08.000Z line 8\n2026-01-02T03:04:09.000Z line 9\n"
    assert names["img-1-cfn-events"] == f"{T0} BuildPhase CREATE_IN_PROGRESS run the build phases\n"
    assert images.services.buckets.objects == {}  # nothing stays in the bucket unless asked
    uploaded = api_images.export_image_logs(image_id="img-1", bucket="logs-bucket", bucket_prefix="exports",
                                            keep_s3_objects=True)
    assert uploaded["url"].startswith("s3://logs-bucket/exports/img-1-logs-") and uploaded["url"].endswith(".tar.gz")
    assert {key.rsplit("/", 1)[-1] for key in images.services.buckets.objects} >= {"1", "img-1-cfn-events"}
    with pytest.raises(NotFoundError):
        api_images.export_image_logs(image_id="img-1", bucket="nosuch", output_file=str(archive))
