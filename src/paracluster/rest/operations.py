"""The REST API's operations in one table: ParallelCluster's /v3 ones and ParaCluster's own /paracluster/v1 ones.

Each row names the operation (ParallelCluster's operationId), its method and path, the status it answers on
success, its query parameters (ParallelCluster's names), its request body, and the `api` call that serves it: the
same call the CLI makes. A row whose call is None is an operation ParaCluster does not have yet; it answers 501.
Adding one later is writing its call into its row.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Literal

from pydantic import BaseModel, ConfigDict, Field

from paracluster import api, api_images
from paracluster.errors import NotFoundError

NAME_PATTERN = r"^[a-zA-Z][a-zA-Z0-9-]+$"


# --- request bodies (ParallelCluster's *RequestContent schemas) ----------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class CreateClusterRequestContent(_Body):
    clusterName: str = Field(pattern=NAME_PATTERN)
    clusterConfiguration: str


class UpdateClusterRequestContent(_Body):
    clusterConfiguration: str


class UpdateComputeFleetRequestContent(_Body):
    status: Literal["START_REQUESTED", "STOP_REQUESTED", "ENABLED", "DISABLED"]


class BuildImageRequestContent(_Body):
    imageId: str = Field(pattern=NAME_PATTERN)
    imageConfiguration: str


# --- the table -----------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Operation:
    """One REST operation. `call` gets the request's parameters (path, query and `body`) as attributes."""

    method: str
    path: str
    status: int
    query: tuple[str, ...] = ()
    body: type[BaseModel] | None = None
    call: Callable[[object], dict] | None = None
    conflict_status: int = 400  # ParallelCluster answers 409 only where its spec has it; other conflicts are 400


def _instances(r) -> dict:
    # ParallelCluster filters EC2 instances by the cluster's tag, so an unknown cluster has no instances (its spec
    # has no 404 here).
    try:
        return api.describe_cluster_instances(cluster_name=r.clusterName, node_type=r.nodeType,
                                              queue_name=r.queueName, region=r.region)
    except NotFoundError:
        return {"instances": []}


def _create(r) -> dict:
    return api.create_cluster(
        cluster_name=r.body.clusterName, config_text=r.body.clusterConfiguration,
        source="the request's clusterConfiguration", region=r.region,
        suppress_validators=tuple(r.suppressValidators or ()),
        validation_failure_level=r.validationFailureLevel or "ERROR", dryrun=bool(r.dryrun),
        rollback_on_failure=r.rollbackOnFailure is not False,
    )


def _update(r) -> dict:
    return api.update_cluster(
        cluster_name=r.clusterName, config_text=r.body.clusterConfiguration,
        source="the request's clusterConfiguration", region=r.region,
        suppress_validators=tuple(r.suppressValidators or ()),
        validation_failure_level=r.validationFailureLevel or "ERROR", dryrun=bool(r.dryrun),
        force_update=bool(r.forceUpdate),
    )


def _delete_instances(r) -> dict:
    api.delete_cluster_instances(cluster_name=r.clusterName, force=bool(r.force), region=r.region)
    return {}


def _build_image(r) -> dict:
    return api_images.build_image(
        image_id=r.body.imageId, config_text=r.body.imageConfiguration, source="the request's imageConfiguration",
        region=r.region, suppress_validators=tuple(r.suppressValidators or ()),
        validation_failure_level=r.validationFailureLevel or "ERROR", dryrun=bool(r.dryrun),
        rollback_on_failure=bool(r.rollbackOnFailure),
    )


def _image_log_events(r) -> dict:
    return api_images.get_image_log_events(
        image_id=r.imageId, log_stream_name=r.logStreamName, region=r.region, next_token=r.nextToken,
        start_from_head=bool(r.startFromHead), limit=r.limit, start_time=r.startTime, end_time=r.endTime,
    )


CLUSTER = "/v3/clusters/{clusterName}"
IMAGE = "/v3/images/custom/{imageId}"
VALIDATION = ("suppressValidators", "validationFailureLevel", "dryrun")
LOG_EVENTS = ("region", "nextToken", "startFromHead", "limit", "startTime", "endTime")

OPERATIONS: dict[str, Operation] = {
    "list_clusters": Operation("GET", "/v3/clusters", 200, ("region", "nextToken", "clusterStatus"),
                               call=lambda r: api.list_clusters(statuses=r.clusterStatus, region=r.region)),
    "create_cluster": Operation("POST", "/v3/clusters", 202, ("region", "rollbackOnFailure") + VALIDATION,
                                CreateClusterRequestContent, _create, conflict_status=409),
    "delete_cluster": Operation("DELETE", CLUSTER, 202, ("region",),
                                call=lambda r: api.delete_cluster(cluster_name=r.clusterName, region=r.region)),
    "describe_cluster": Operation("GET", CLUSTER, 200, ("region",),
                                  call=lambda r: api.describe_cluster(cluster_name=r.clusterName, region=r.region)),
    "update_cluster": Operation("PUT", CLUSTER, 202, ("region", "forceUpdate") + VALIDATION,
                                UpdateClusterRequestContent, _update, conflict_status=409),
    "describe_compute_fleet": Operation("GET", CLUSTER + "/computefleet", 200, ("region",),
                                        call=lambda r: api.describe_compute_fleet(cluster_name=r.clusterName,
                                                                                  region=r.region)),
    # ParallelCluster's spec says 204 here, but its server answers 200 with the fleet's status (and a 204 cannot
    # carry the body the spec describes); ParaCluster answers as the server does.
    "update_compute_fleet": Operation("PATCH", CLUSTER + "/computefleet", 200, ("region",),
                                      UpdateComputeFleetRequestContent,
                                      lambda r: api.update_compute_fleet(cluster_name=r.clusterName,
                                                                         status=r.body.status, region=r.region)),
    "delete_cluster_instances": Operation("DELETE", CLUSTER + "/instances", 202, ("region", "force"),
                                          call=_delete_instances),
    "describe_cluster_instances": Operation("GET", CLUSTER + "/instances", 200,
                                            ("region", "nextToken", "nodeType", "queueName"), call=_instances),
    "list_cluster_log_streams": Operation("GET", CLUSTER + "/logstreams", 200, ("region", "filters", "nextToken"),
                                          call=lambda r: api.list_cluster_log_streams(
                                              cluster_name=r.clusterName, filters=r.filters,
                                              next_token=r.nextToken, region=r.region)),
    "get_cluster_log_events": Operation("GET", CLUSTER + "/logstreams/{logStreamName}", 200, LOG_EVENTS,
                                        call=lambda r: api.get_cluster_log_events(
                                            cluster_name=r.clusterName, log_stream_name=r.logStreamName,
                                            next_token=r.nextToken, start_from_head=r.startFromHead, limit=r.limit,
                                            start_time=r.startTime, end_time=r.endTime, region=r.region)),
    "get_cluster_stack_events": Operation("GET", CLUSTER + "/stackevents", 200, ("region", "nextToken"),
                                          call=lambda r: api.get_cluster_stack_events(
                                              cluster_name=r.clusterName, next_token=r.nextToken, region=r.region)),
    "list_images": Operation("GET", "/v3/images/custom", 200, ("region", "nextToken", "imageStatus"),
                             call=lambda r: api_images.list_images(image_status=r.imageStatus, region=r.region,
                                                                   next_token=r.nextToken)),
    "build_image": Operation("POST", "/v3/images/custom", 202, ("region", "rollbackOnFailure") + VALIDATION,
                             BuildImageRequestContent, _build_image, conflict_status=409),
    "delete_image": Operation("DELETE", IMAGE, 202, ("region", "force"),
                              call=lambda r: api_images.delete_image(image_id=r.imageId, force=bool(r.force),
                                                                     region=r.region)),
    "describe_image": Operation("GET", IMAGE, 200, ("region",),
                                call=lambda r: api_images.describe_image(image_id=r.imageId, region=r.region)),
    "list_image_log_streams": Operation("GET", IMAGE + "/logstreams", 200, ("region", "nextToken"),
                                        call=lambda r: api_images.list_image_log_streams(
                                            image_id=r.imageId, region=r.region, next_token=r.nextToken)),
    "get_image_log_events": Operation("GET", IMAGE + "/logstreams/{logStreamName}", 200, LOG_EVENTS,
                                      call=_image_log_events),
    "get_image_stack_events": Operation("GET", IMAGE + "/stackevents", 200, ("region", "nextToken"),
                                        call=lambda r: api_images.get_image_stack_events(
                                            image_id=r.imageId, region=r.region, next_token=r.nextToken)),
    "list_official_images": Operation("GET", "/v3/images/official", 200, ("region", "os", "architecture"),
                                      call=lambda r: api_images.list_official_images(
                                          os=r.os, architecture=r.architecture, region=r.region)),
}

# ParaCluster's own operations, beside /v3 (README: "The REST API"); the dashboard uses them.
OWN = "/paracluster/v1/clusters/{clusterName}"
PARACLUSTER_OPERATIONS: dict[str, Operation] = {
    "describe_cluster_slurm": Operation("GET", OWN + "/slurm", 200, ("region",), conflict_status=409,
                                        call=lambda r: api.slurm_status(cluster_name=r.clusterName, region=r.region)),
    "describe_cluster_node_counts": Operation("GET", OWN + "/nodecounts", 200, ("region",), conflict_status=409,
                                              call=lambda r: api.node_count_history(cluster_name=r.clusterName,
                                                                                    region=r.region)),
    "describe_cluster_configuration": Operation("GET", OWN + "/configuration", 200, ("region",),
                                                call=lambda r: api.cluster_configuration(cluster_name=r.clusterName,
                                                                                         region=r.region)),
}
