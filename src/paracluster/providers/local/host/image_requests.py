"""The host service's image requests: build, describe, list and delete images, their log stream and stack events.

Builds run in a thread of the service (images/build.py); the rest answers from the image store at once. As in
ParallelCluster, a built image is described from its AMI and one building or failed from its build stack.
"""

from __future__ import annotations

import logging
import secrets

from paracluster import __version__
from paracluster.errors import BadRequestError, ConflictError, NotFoundError
from paracluster.images.records import ImageRecord
from paracluster.providers.local.images import build, logs
from paracluster.providers.local.images.official import DESCRIPTION
from paracluster.providers.local.images.store import ImageState, ImageStore
from paracluster.records import now, to_data

LOG = logging.getLogger("paracluster.local")


def new_ami_id() -> str:
    """An id shaped like an EC2 AMI id (ami- and 17 hex digits)."""
    return "ami-" + secrets.token_hex(9)[:17]


def _store(service) -> ImageStore:
    return ImageStore(service.settings.state_path)


def _record(service, image_id: str, region: str | None) -> ImageState:
    record = _store(service).load(image_id)
    if record is None or (region is not None and record.region != region):
        raise NotFoundError(f"No image or stack associated with ParallelCluster image id: {image_id}.")
    return record


def image_record(service, record: ImageState) -> ImageRecord:
    """The image as the provider contract reports it: built ones from their AMI, others from their build stack."""
    store = _store(service)
    built = record.available
    name = f"{record.name} {(record.image_time or record.creation_time).replace(':', '-')}"
    return ImageRecord(
        image_id=record.image_id, region=record.region, version=record.version, build_status=record.build_status,
        stack_status=None if built else record.stack_status, stack_arn=None if built else build.stack_arn(record),
        stack_creation_time=record.creation_time, stack_reason=record.stack_reason, stack_tags=record.stack_tags,
        builder_status=record.builder_status, builder_reason=record.builder_reason,
        logs_arn=logs.log_group_arn(record.region, record.image_id, service.settings["account_id"]),
        config_url=(store.image_dir(record.image_id) / "image-config.yaml").as_uri(),
        ami_id=record.ami_id, ami_name=name, ami_state="AVAILABLE" if built else "PENDING",
        architecture=record.architecture, os=record.os,
        description=(f"ParaCluster local image of {record.os}: {len(record.layers)} layer(s) over {DESCRIPTION} "
                     f"(parent image {record.parent})"),
        tags=record.image_tags, creation_time=record.image_time, progress=record.progress,
    )


def build_image(service, image_id: str, config_text: str, region: str | None = None,
                rollback_on_failure: bool = False) -> dict:
    """Record the image and start its build in the background; answer its record (BUILD_IN_PROGRESS)."""
    from paracluster.config.load import load_config_text
    from paracluster.config.schema import IMAGE_CONFIG
    from paracluster.providers.local.host.events import StepEvents

    config = load_config_text(IMAGE_CONFIG, config_text).config
    if config is None:
        raise BadRequestError(f"the configuration of image '{image_id}' does not load; validate it with --dryrun true")
    name = config.image.name or image_id
    region = region or config.region or "local"
    pcluster_tags = {"parallelcluster:image_name": name, "parallelcluster:version": __version__,
                     "parallelcluster:image_id": image_id}
    ami_tags = {**{tag.key: tag.value for tag in config.image.tags}, **pcluster_tags,
                "parallelcluster:build_log": logs.log_group_arn(region, image_id, service.settings["account_id"])}
    record = ImageState(
        image_id=image_id, ami_id=new_ami_id(), region=region, version=__version__, name=name,
        parent=config.build.parent_image, os="", architecture="", creation_time=now(),
        image_tags=ami_tags,
        stack_tags={**{tag.key: tag.value for tag in config.build.tags}, **pcluster_tags},
        rollback_on_failure=rollback_on_failure,
        terminate_on_failure=config.dev_settings.terminate_instance_on_failure,
    )
    store = _store(service)
    if not store.create(record, config_text):
        existing = store.load(image_id)
        if existing is not None and not existing.available:
            raise ConflictError(f"ParallelCluster build infrastructure for image {image_id} or a CloudFormation Stack "
                                "with the same name already exists.")
        raise ConflictError(f"ParallelCluster image {image_id} already exists.")
    StepEvents(store.image_dir(image_id), image_id, build.stack_arn(record), "CREATE").stack("CREATE_IN_PROGRESS",
                                                                                           "User Initiated")
    service._background(f"image-{image_id}", _run, service, image_id)
    return to_data(image_record(service, store.load(image_id)))


def _run(service, image_id: str) -> None:
    store = _store(service)
    try:
        store.mount()
        build.run_build(store, image_id, service.settings)
    except Exception:  # noqa: BLE001 - logged; the record says the build failed
        LOG.exception("image %s: the build stopped", image_id)
        record = store.load(image_id)
        if record is not None and record.build_status == "BUILD_IN_PROGRESS":
            build.interrupted(store, record)


def describe_image(service, image_id: str, region: str | None = None) -> dict:
    return to_data(image_record(service, _record(service, image_id, region)))


def list_images(service, region: str | None = None) -> list:
    return [to_data(image_record(service, record)) for record in _store(service).records()
            if region is None or record.region == region]


def delete_image(service, image_id: str, region: str | None = None, force: bool = False) -> dict:
    """Delete the image (its layer goes once no image or running node needs it); refused while a build runs, and
    while clusters use it unless `force`."""
    store = _store(service)
    record = _record(service, image_id, region)
    if record.build_status == "BUILD_IN_PROGRESS":
        raise BadRequestError("Image cannot be deleted because EC2 ImageBuilder Image has a running workflow.")
    users = clusters_using(service, record.ami_id)
    if users and not force:
        instances = sorted(instance for ids in users.values() for instance in ids)
        raise BadRequestError(
            f"Unable to delete image and stack: Image {image_id} is used by instances {instances} of cluster(s) "
            f"{', '.join(sorted(users))}; delete those clusters first, or use --force true"
        )
    answer = image_record(service, record)
    answer.build_status = "DELETE_IN_PROGRESS"
    if answer.stack_status:
        answer.stack_status = "DELETE_IN_PROGRESS"
    build.cleanup(store, record)
    store.remove(image_id)
    store.collect_garbage()
    return to_data(answer)


def clusters_using(service, ami_id: str) -> dict[str, list[str]]:
    """The clusters whose configuration names this AMI id, each with its running instances that boot from it."""
    from paracluster.plan.images import custom_amis, node_custom_ami

    users = {}
    for cluster in service.store.records():
        try:
            config = service.plan(cluster.name).config
        except Exception:  # noqa: BLE001 - a cluster whose configuration no longer loads uses nothing we can tell
            continue
        if ami_id in custom_amis(config):
            users[cluster.name] = [node.instance.instance_id for node in cluster.nodes.values()
                                   if node.instance and node.instance.state in ("pending", "running")
                                   and node_custom_ami(config, node.node) == ami_id]
    return users


def image_log_streams(service, image_id: str, region: str | None = None) -> list:
    record = _record(service, image_id, region)
    return to_data(logs.streams(_store(service), record, service.settings["account_id"]))


def image_log_events(service, image_id: str, stream: str, region: str | None = None) -> list:
    record = _record(service, image_id, region)
    if stream != logs.stream_name(record):
        raise NotFoundError(f"The specified log stream {stream} does not exist.")
    return to_data(logs.events(_store(service), record))


def image_stack_events(service, image_id: str, next_token: str | None = None, region: str | None = None) -> dict:
    from paracluster.providers.local.host import events

    record = _record(service, image_id, region)
    found, token = events.page(_store(service).image_dir(record.image_id), next_token)
    return {"events": to_data(found), "next_token": token}


def resume(service) -> None:
    """At service start: builds the previous service left under way end as failed; unused layers go."""
    store = _store(service)
    for record in store.records():
        if record.build_status == "BUILD_IN_PROGRESS":
            LOG.info("image %s: its build was cut short by a restart", record.image_id)
            build.interrupted(store, record)
    store.collect_garbage()


def collect_garbage(service) -> None:
    """Remove the layers nothing needs any more (after a cluster went, say)."""
    _store(service).collect_garbage()
