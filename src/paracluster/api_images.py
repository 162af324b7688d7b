"""The image operations ParaCluster offers (the CLI's and the REST API's), in ParallelCluster's terms and JSON.

As `api` for clusters: configurations arrive as text, every operation returns promptly (a build is started, then
observed with describe-image), and answers are rendered from the provider's records by `paracluster.images.views`.
"""

from __future__ import annotations

import tarfile
import tempfile
from datetime import datetime
from pathlib import Path

from paracluster import api, views
from paracluster.errors import BadRequestError, DryRunSucceeded, NotFoundError
from paracluster.images import logpages
from paracluster.images import views as image_views


def build_image(
    *,
    image_id: str,
    config_text: str,
    source: str = "the image configuration",
    region: str | None = None,
    suppress_validators: tuple[str, ...] = (),
    validation_failure_level: str = "ERROR",
    dryrun: bool = False,
    rollback_on_failure: bool = False,
    provider_name: str | None = None,
) -> dict:
    """Validate the image configuration (and, with the provider, its parent image), then start the build; with
    `dryrun`, stop after validation."""
    from paracluster.config.validate.names import check_image_id

    problem = check_image_id(image_id)
    if problem:
        raise BadRequestError(f"--image-id {problem}")
    outcome, messages = api.validate("image", config_text, image_id, region, suppress_validators,
                                     validation_failure_level, source)
    chosen = api.provider(provider_name)
    messages = api.provider_findings(getattr(chosen, "validate_image", None), "image", image_id, outcome.config, region,
                                     suppress_validators, validation_failure_level, messages)
    if dryrun:
        raise DryRunSucceeded(messages)
    # The region the later verbs look in by default ($AWS_REGION, ...) when neither the request nor the file says.
    where = region or outcome.config.region or api.default_region(None)
    record = chosen.build_image(image_id, config_text, where, rollback_on_failure)
    body = {"image": image_views.image_summary(record)}
    if messages:
        body["validationMessages"] = messages
    return body


def describe_image(*, image_id: str, region: str | None = None, provider_name: str | None = None) -> dict:
    return image_views.image_description(api.provider(provider_name).describe_image(image_id,
                                                                                     api.default_region(region)))


def list_images(*, image_status: str, region: str | None = None, next_token: str | None = None,
                provider_name: str | None = None) -> dict:
    """The images whose build status --image-status stands for (AVAILABLE, PENDING or FAILED)."""
    if image_status not in image_views.STATUS_FILTERS:
        raise BadRequestError(f"--image-status '{image_status}' is invalid; use one of "
                              f"{', '.join(image_views.STATUS_FILTERS)}")
    wanted = image_views.STATUS_FILTERS[image_status]
    records = api.provider(provider_name).list_images(api.default_region(region))
    return {"images": [image_views.image_summary(r) for r in records if r.build_status in wanted]}


def delete_image(*, image_id: str, force: bool = False, region: str | None = None,
                 provider_name: str | None = None) -> dict:
    record = api.provider(provider_name).delete_image(image_id, api.default_region(region), force)
    return {"image": image_views.image_summary(record)}


def list_official_images(*, os: str | None = None, architecture: str | None = None, region: str | None = None,
                         provider_name: str | None = None) -> dict:
    images = api.provider(provider_name).official_images(api.default_region(region), os, architecture)
    return {"images": [image_views.official_image(image) for image in images]}


def list_image_log_streams(*, image_id: str, region: str | None = None, next_token: str | None = None,
                           provider_name: str | None = None) -> dict:
    streams = api.provider(provider_name).image_log_streams(image_id, api.default_region(region))
    if not streams:
        raise NotFoundError(f"Unable to find image logs, please double check if image id={image_id} is correct.")
    return {"logStreams": [image_views.log_stream(stream) for stream in streams]}


def get_image_log_events(*, image_id: str, log_stream_name: str, region: str | None = None,
                         next_token: str | None = None, start_from_head: bool = False, limit: int | None = None,
                         start_time: str | None = None, end_time: str | None = None,
                         provider_name: str | None = None) -> dict:
    logpages.check_range(start_time, end_time, limit)
    events = api.provider(provider_name).image_log_events(image_id, api.default_region(region), log_stream_name)
    return image_views.log_events(logpages.page(events, start_from_head=bool(start_from_head), limit=limit,
                                                next_token=next_token, start_time=start_time, end_time=end_time))


def get_image_stack_events(*, image_id: str, region: str | None = None, next_token: str | None = None,
                           provider_name: str | None = None) -> dict:
    events, token = api.provider(provider_name).image_stack_events(image_id, api.default_region(region), next_token)
    return views.stack_events(events, token)


def export_image_logs(*, image_id: str, bucket: str, bucket_prefix: str | None = None, output_file: str | None = None,
                      keep_s3_objects: bool = False, start_time: str | None = None, end_time: str | None = None,
                      region: str | None = None, provider_name: str | None = None) -> dict:
    """Every log stream of the image (within the time range) and its stack events in one tar.gz archive: written to
    `output_file`, else uploaded to the bucket (`{"url": ...}`). As ParallelCluster, the bucket carries the export;
    with `keep_s3_objects` the exported streams stay there under the prefix."""
    chosen = api.provider(provider_name)
    where = api.default_region(region)
    logpages.check_range(start_time, end_time, None)
    chosen.services.buckets.list(f"s3://{bucket}/")  # NotFoundError when the bucket does not exist
    archive_name = f"{image_id}-logs-{datetime.now().strftime('%Y%m%d%H%M')}"
    prefix = (bucket_prefix or archive_name).strip("/")
    with tempfile.TemporaryDirectory(prefix="paracluster-export-") as temporary:
        root = Path(temporary) / archive_name
        root.mkdir()
        for stream in chosen.image_log_streams(image_id, where):
            events = logpages.page(chosen.image_log_events(image_id, where, stream.name), start_from_head=True,
                                   limit=logpages.MAX_EVENTS, start_time=start_time, end_time=end_time).events
            path = root / stream.name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(f"{event.timestamp} {event.message}\n" for event in events))
        stack_events = _all_stack_events(chosen, image_id, where)
        (root / f"{image_id}-cfn-events").write_text(
            "".join(f"{event['timestamp']} {event['logicalResourceId']} {event['resourceStatus']} "
                    f"{event.get('resourceStatusReason', '')}".rstrip() + "\n" for event in stack_events))
        if keep_s3_objects:
            chosen.services.buckets.put(root, f"s3://{bucket}/{prefix}/")
        archive = Path(output_file) if output_file else Path(temporary) / f"{archive_name}.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(root, arcname=archive_name)
        if output_file:
            return {"path": str(archive)}
        return {"url": chosen.services.buckets.put(archive, f"s3://{bucket}/{prefix}/{archive.name}")}


def _all_stack_events(chosen, image_id: str, region: str | None) -> list[dict]:
    found, token = [], None
    while True:
        events, token = chosen.image_stack_events(image_id, region, token)
        found += [views.stack_event(event) for event in events]
        if not token:
            return list(reversed(found))  # oldest first, as a log reads
