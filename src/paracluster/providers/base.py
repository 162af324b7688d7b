"""The provider contract: what `api` asks of a provider, in typed records; local and aws implement it.

A provider realizes a checked configuration and the neutral cluster plan (`paracluster.plan`); it never computes
them. Every call returns promptly: an operation that takes long (create, delete) is started and then observed
through `describe_cluster`; polling and progress belong to the CLI. A provider may run bounded steps inside a call.
What a provider cannot do raises NotAvailableError with one sentence saying why and what to use instead.

The AWS stand-ins (key pairs, buckets, secrets, storage, accounting databases) are reached through the provider's
`services` so that the CLI never imports a provider's internals: on the local provider they are local resources,
on aws they are the AWS services themselves.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Protocol

from paracluster.images.records import ImageRecord, LogEventRecord, OfficialImageRecord
from paracluster.images.records import LogStreamRecord as ImageLogStreamRecord
from paracluster.records import (
    ClusterRecord,
    FleetStatusRecord,
    InstanceRecord,
    LogEventsPage,
    LogGroupRecord,
    LogStreamRecord,
    NodeFailure,
    StackEvent,
    UpdateOutcome,
)


@dataclasses.dataclass
class SshTarget:
    """Where `ssh` goes: user, address and port, the known hosts file, and the private key when the provider has it."""

    user: str
    address: str
    known_hosts: str | None = None
    port: int | None = None
    identity_file: str | None = None


@dataclasses.dataclass
class InstanceListing:
    """A cluster's instances and the latest launch and bootstrap failures of its compute nodes."""

    instances: list[InstanceRecord]
    node_failures: list[NodeFailure]


@dataclasses.dataclass
class SlurmNode:
    """A Slurm node as sinfo reports it: its partition, its state with Slurm's suffix (`idle~`), and the reason."""

    name: str
    partition: str
    state: str
    reason: str | None = None


@dataclasses.dataclass
class SlurmJob:
    """A job as squeue reports it (queued, running, and finished ones Slurm still remembers)."""

    job_id: str
    partition: str
    name: str
    user: str
    state: str
    elapsed: str
    nodes: int
    node_list_or_reason: str
    submit_time: str | None = None
    start_time: str | None = None
    end_time: str | None = None


@dataclasses.dataclass
class SlurmStatus:
    """Slurm's view of a cluster: nodes, jobs from squeue and, when accounting is on, finished jobs from sacct."""

    nodes: list[SlurmNode]
    jobs: list[SlurmJob]
    accounting: list[SlurmJob] | None = None  # None: the cluster has no accounting (sacct cannot answer)


@dataclasses.dataclass
class NodeCountSample:
    """The compute instances of a cluster at one time, per queue, counted by state (pending, running)."""

    time: str
    queues: dict[str, dict[str, int]]


class KeyPairs(Protocol):
    """EC2 key pairs (local: kept in the state directory)."""

    def create(self, name: str) -> dict: ...
    def import_public_key(self, name: str, public_key: str) -> dict: ...
    def describe(self) -> list[dict]: ...
    def delete(self, name: str) -> None: ...


class Buckets(Protocol):
    """S3 buckets holding scripts and data that configs name by s3:// URL."""

    def put(self, source: Path, url: str) -> list[str]: ...
    def get(self, url: str, destination: Path) -> str: ...
    def list(self, url: str | None) -> list[dict]: ...
    def remove(self, url: str) -> list[str]: ...


class Secrets(Protocol):
    """Secrets Manager secrets that configs name by ARN (values are never listed)."""

    def put(self, arn: str, value: bytes) -> None: ...
    def list_arns(self) -> list[str]: ...
    def delete(self, arn: str) -> None: ...


class Services(Protocol):
    """The AWS services a provider offers besides clusters; `storage` and `accounting` answer in JSON-ready data."""

    key_pairs: KeyPairs
    buckets: Buckets
    secrets: Secrets

    def storage(self, action: str, **request) -> dict: ...
    def accounting(self, action: str, **request) -> dict: ...


class ImageOperations(Protocol):
    """Image operations of one provider (build-image and the image verbs). `region` as for clusters."""

    def validate_image(self, image_id: str, config, region: str | None, suppress: tuple[str, ...]) -> list:
        """Findings of the provider's own checks of an image config (its parent image exists, ...)."""

    def build_image(self, image_id: str, config_text: str, region: str | None,
                    rollback_on_failure: bool) -> ImageRecord:
        """Start building the image; return its record (BUILD_IN_PROGRESS)."""

    def describe_image(self, image_id: str, region: str | None) -> ImageRecord: ...

    def list_images(self, region: str | None) -> list[ImageRecord]: ...

    def delete_image(self, image_id: str, region: str | None, force: bool) -> ImageRecord:
        """Delete the image (refused while clusters use it, unless `force`); return its record (DELETE_IN_PROGRESS)."""

    def official_images(self, region: str | None, os: str | None, architecture: str | None) -> list[OfficialImageRecord]:
        ...

    def image_log_streams(self, image_id: str, region: str | None) -> list[ImageLogStreamRecord]: ...

    def image_log_events(self, image_id: str, region: str | None, stream: str) -> list[LogEventRecord]:
        """Every event of one of the image's log streams, oldest first."""

    def image_stack_events(self, image_id: str, region: str | None,
                           next_token: str | None) -> tuple[list[StackEvent], str | None]:
        """The image build's steps as stack events, newest first, and the next page's token."""


class ClusterProvider(ImageOperations, Protocol):
    """Cluster operations of one provider. `region` selects the clusters of that region (None: every region)."""

    name: str
    services: Services

    def check_config(self, config, updating: str | None = None) -> None:
        """Refuse, with one sentence, what this provider cannot run (before anything is created or updated);
        `updating` names the cluster an update-cluster request is for (its own resources are not in the way)."""

    def create_cluster(self, name: str, config_text: str, region: str, rollback_on_failure: bool) -> ClusterRecord:
        """Start creating the cluster; return its record (CREATE_IN_PROGRESS)."""

    def delete_cluster(self, name: str, region: str | None) -> ClusterRecord:
        """Start deleting the cluster (also during its create); return its record (DELETE_IN_PROGRESS)."""

    def describe_cluster(self, name: str, region: str | None) -> ClusterRecord: ...

    def list_clusters(self, region: str | None) -> list[ClusterRecord]: ...

    def cluster_instances(self, name: str, region: str | None) -> InstanceListing: ...

    def compute_fleet(self, name: str, region: str | None) -> FleetStatusRecord: ...

    def update_compute_fleet(self, name: str, region: str | None, status: str) -> FleetStatusRecord:
        """Ask for the compute fleet to stop or start; the cluster manager carries it out."""

    def ssh_target(self, name: str, region: str | None, login_pool: str | None) -> SshTarget: ...

    def slurm_token(self, name: str, region: str | None, user: str | None, lifespan: int | None) -> dict:
        """A JWT for the cluster's slurmrestd."""

    def update_cluster(self, name: str, region: str | None, config_text: str, force: bool,
                       dryrun: bool) -> UpdateOutcome:
        """Plan the update (paracluster.config.update) on the cluster's state; unless refused or a dry run, start it."""

    def delete_cluster_instances(self, name: str, region: str | None) -> None:
        """Terminate the compute instances (static nodes come back through the cluster manager)."""

    def stack_events(self, name: str, region: str | None, next_token: str | None) -> tuple[list[StackEvent], str | None]:
        """The cluster's create, update and delete steps as stack events, newest first, and the next page's token."""

    def slurm_status(self, name: str, region: str | None) -> SlurmStatus:
        """Slurm's nodes and jobs of a created cluster, asked on its head node."""

    def node_count_history(self, name: str, region: str | None) -> list[NodeCountSample]:
        """The cluster's compute instance counts over time, oldest first (a bounded recent window)."""

    def validate_cluster(self, name: str, config, region: str | None, suppress: tuple[str, ...]) -> list:
        """Findings (config.validate Finding) of the provider's own checks of a config, run before anything is made."""

    def dcv_connect(self, name: str, region: str | None) -> dict:
        """Where dcv-connect opens the head node's DCV session, or NotAvailableError saying why there is none."""

    # --- cluster logs, as CloudWatch Logs keeps them: groups, streams, events (times in ms since the epoch) -------

    def cluster_log_group(self, name: str, region: str | None) -> LogGroupRecord:
        """The log group of an existing cluster, with its head node's hostname; BadRequestError when the cluster's
        CloudWatch logging is disabled."""

    def log_groups(self, region: str | None) -> list[LogGroupRecord]:
        """The log groups of the provider's clusters, also those kept after their cluster (DeletionPolicy Retain)."""

    def delete_log_group(self, group: str, region: str | None) -> None:
        """Delete a log group whose cluster is gone."""

    def log_streams(self, group: LogGroupRecord, prefix: str | None,
                    next_token: str | None) -> tuple[list[LogStreamRecord], str | None]:
        """A page of the group's streams by name (those starting with `prefix`), and the next page's token."""

    def log_events(self, group: LogGroupRecord, stream: str, start: int | None, end: int | None,
                   start_from_head: bool, limit: int | None, next_token: str | None) -> LogEventsPage:
        """A page of a stream's events in [start, end), as GetLogEvents pages them."""

    def diagnostics(self, name: str, region: str | None):
        """What `paracluster diagnose` checks, gathered from the cluster's nodes (paracluster.diagnose.facts)."""
