"""ParallelCluster's JSON of the image operations, rendered from image records (as paracluster.views for clusters).

As in ParallelCluster, a built image is described from its AMI (no stack fields), an image still building or failed
from its build stack; `progress` (the build step under way) is ParaCluster's addition, as in describe-cluster.
"""

from __future__ import annotations

from paracluster.images.records import ImageRecord, LogEventsPage, LogStreamRecord, OfficialImageRecord

# list-images --image-status -> the build statuses it lists (ParallelCluster maps them from stack statuses).
STATUS_FILTERS = {
    "AVAILABLE": ("BUILD_COMPLETE",),
    "PENDING": ("BUILD_IN_PROGRESS",),
    "FAILED": ("BUILD_FAILED", "DELETE_FAILED"),
}


def _tags(tags: dict[str, str]) -> list[dict]:
    return [{"key": key, "value": value} for key, value in tags.items()]


def image_summary(image: ImageRecord) -> dict:
    """ImageInfoSummary: what list-images, build-image and delete-image show of an image."""
    body = {"imageId": image.image_id, "imageBuildStatus": image.build_status}
    if image.build_status == "BUILD_COMPLETE":
        body["ec2AmiInfo"] = {"amiId": image.ami_id}
    else:
        if image.stack_status:
            body["cloudformationStackStatus"] = image.stack_status
        if image.stack_arn:
            body["cloudformationStackArn"] = image.stack_arn
    body.update(region=image.region, version=image.version)
    return body


def image_description(image: ImageRecord) -> dict:
    """describe-image's answer: from the AMI once built, else from the build stack."""
    if image.build_status == "BUILD_COMPLETE":
        body = {
            "creationTime": image.creation_time,
            "imageConfiguration": {"url": image.config_url},
            "imageId": image.image_id,
            "imageBuildStatus": image.build_status,
            "ec2AmiInfo": {
                "amiName": image.ami_name, "amiId": image.ami_id, "state": image.ami_state,
                "tags": _tags(image.tags), "architecture": image.architecture, "description": image.description,
            },
            "region": image.region,
            "version": image.version,
        }
        return body
    body = {
        "imageConfiguration": {"url": image.config_url},
        "imageId": image.image_id,
        "imageBuildStatus": image.build_status,
        "imageBuildLogsArn": image.logs_arn,
        "imagebuilderImageStatus": image.builder_status,
        "imagebuilderImageStatusReason": image.builder_reason,
        "cloudformationStackStatus": image.stack_status,
        "cloudformationStackStatusReason": image.stack_reason,
        "cloudformationStackArn": image.stack_arn,
        "cloudformationStackCreationTime": image.stack_creation_time,
        "cloudformationStackTags": _tags(image.stack_tags),
        "region": image.region,
        "version": image.version,
    }
    if image.progress:
        body["progress"] = image.progress
    return {key: value for key, value in body.items() if value is not None}


def official_image(image: OfficialImageRecord) -> dict:
    """AmiInfo of list-official-images."""
    return {"architecture": image.architecture, "amiId": image.ami_id, "name": image.name, "os": image.os,
            "version": image.version}


def log_stream(stream: LogStreamRecord) -> dict:
    body = {
        "logStreamName": stream.name,
        "creationTime": stream.creation_time,
        "firstEventTimestamp": stream.first_event_time,
        "lastEventTimestamp": stream.last_event_time,
        "lastIngestionTime": stream.last_ingestion_time,
        "logStreamArn": stream.arn,
    }
    if stream.upload_sequence_token:
        body["uploadSequenceToken"] = stream.upload_sequence_token
    return body


def log_events(page: LogEventsPage) -> dict:
    body = {"events": [{"message": event.message, "timestamp": event.timestamp} for event in page.events]}
    if page.next_token:
        body["nextToken"] = page.next_token
    if page.prev_token:
        body["prevToken"] = page.prev_token
    return body
