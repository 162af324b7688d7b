"""The local provider's operations: clusters whose nodes are Linux namespaces on this machine, run by a host service."""

from __future__ import annotations

from pathlib import Path

from paracluster.errors import BadRequestError, ClusterError
from paracluster.providers.base import InstanceListing, NodeCountSample, SlurmStatus, SshTarget
from paracluster.providers.local.images.operations import LocalImageOperations
from paracluster.providers.local.standins import buckets, keypairs, secrets
from paracluster.providers.local.host.client import ServiceClient
from paracluster.records import (
    ClusterRecord,
    FleetStatusRecord,
    InstanceRecord,
    LogEvent,
    LogEventsPage,
    LogGroupRecord,
    LogStreamRecord,
    NodeFailure,
    StackEvent,
    UpdateOutcome,
    from_data,
)


class LocalProvider(LocalImageOperations):
    """Cluster and image operations of the local provider; each is one request to the host service."""

    name = "local"

    def __init__(self, settings):
        self.settings = settings
        self.client = ServiceClient(settings)
        self.services = LocalServices(settings, self.client)

    def check_config(self, config, updating: str | None = None) -> None:
        """Refuse what the local provider cannot run, with one sentence."""
        if config.scheduling.scheduler == "awsbatch":
            raise BadRequestError(
                "Scheduling/Scheduler: awsbatch clusters run on AWS Batch, which the local provider does not have; "
                "use Scheduler: slurm or --provider aws"
            )
        from paracluster.providers.local.standins.storage import check_existing

        check_existing(config, self.settings.state_path, updating)

    def create_cluster(self, name: str, config_text: str, region: str, rollback_on_failure: bool) -> ClusterRecord:
        return from_data(ClusterRecord, self.client.call("create_cluster", name=name, config_text=config_text,
                                                         region=region, rollback_on_failure=rollback_on_failure))

    def delete_cluster(self, name: str, region: str | None) -> ClusterRecord:
        return from_data(ClusterRecord, self.client.call("delete_cluster", name=name, region=region))

    def describe_cluster(self, name: str, region: str | None) -> ClusterRecord:
        return from_data(ClusterRecord, self.client.call("describe_cluster", name=name, region=region))

    def list_clusters(self, region: str | None) -> list[ClusterRecord]:
        return [from_data(ClusterRecord, item) for item in self.client.call("list_clusters", region=region)]

    def cluster_instances(self, name: str, region: str | None) -> InstanceListing:
        answer = self.client.call("cluster_instances", name=name, region=region)
        return InstanceListing([from_data(InstanceRecord, item) for item in answer["instances"]],
                               [from_data(NodeFailure, item) for item in answer["node_failures"]])

    def compute_fleet(self, name: str, region: str | None) -> FleetStatusRecord:
        cluster = self.describe_cluster(name, region)
        return FleetStatusRecord(cluster.fleet_status, cluster.fleet_status_time or cluster.last_updated_time)

    def update_compute_fleet(self, name: str, region: str | None, status: str) -> FleetStatusRecord:
        answer = self.client.call("update_compute_fleet", name=name, region=region, status=status)
        return FleetStatusRecord(answer["status"], answer["last_updated_time"])

    def ssh_target(self, name: str, region: str | None, login_pool: str | None) -> SshTarget:
        """User, address and known hosts of the head node (or of a login pool's load balancer), and the private key
        file when ParaCluster holds it."""
        target = self.client.call("ssh_target", name=name, region=region, login_pool=login_pool)
        if not target.get("key_name"):
            raise ClusterError(
                f"cluster '{name}' has no key pair (HeadNode/Ssh/KeyName is not set), so nobody can log in with "
                "ssh; set KeyName in the configuration of a new cluster"
            )
        pair = keypairs.get(self.settings.state_path, target["key_name"])
        return SshTarget(user=target["user"], address=target["address"], known_hosts=target["known_hosts"],
                         port=target.get("port"),
                         identity_file=str(pair.private_key_path) if pair.private_key_path else None)

    def slurm_token(self, name: str, region: str | None, user: str | None, lifespan: int | None) -> dict:
        return self.client.call("slurm_token", name=name, region=region, user=user, lifespan=lifespan)

    # --- Day-2 operations: update-cluster, delete-cluster-instances, stack events ----------------------------------

    def update_cluster(self, name: str, region: str | None, config_text: str, force: bool,
                       dryrun: bool) -> UpdateOutcome:
        return from_data(UpdateOutcome, self.client.call("update_cluster", name=name, region=region,
                                                         config_text=config_text, force=force, dryrun=dryrun))

    def delete_cluster_instances(self, name: str, region: str | None) -> None:
        self.client.call("delete_cluster_instances", name=name, region=region)

    def stack_events(self, name: str, region: str | None, next_token: str | None) -> tuple[list[StackEvent], str | None]:
        answer = self.client.call("stack_events", name=name, region=region, next_token=next_token)
        return [from_data(StackEvent, item) for item in answer["events"]], answer.get("next_token")

    def slurm_status(self, name: str, region: str | None) -> SlurmStatus:
        return from_data(SlurmStatus, self.client.call("slurm_status", name=name, region=region))

    def node_count_history(self, name: str, region: str | None) -> list[NodeCountSample]:
        return [from_data(NodeCountSample, item)
                for item in self.client.call("node_count_history", name=name, region=region)]

    # --- cluster logs (host/log_requests.py) and diagnosis (host/diagnostics.py) --------------------------------

    def cluster_log_group(self, name: str, region: str | None) -> LogGroupRecord:
        return from_data(LogGroupRecord, self.client.call("cluster_log_group", name=name, region=region))

    def log_groups(self, region: str | None) -> list[LogGroupRecord]:
        return [from_data(LogGroupRecord, item) for item in self.client.call("log_groups", region=region)]

    def delete_log_group(self, group: str, region: str | None) -> None:
        self.client.call("delete_log_group", group=group)

    def log_streams(self, group: LogGroupRecord, prefix: str | None,
                    next_token: str | None) -> tuple[list[LogStreamRecord], str | None]:
        answer = self.client.call("log_streams", group=group.name, prefix=prefix, next_token=next_token)
        return [from_data(LogStreamRecord, item) for item in answer["streams"]], answer["next_token"]

    def log_events(self, group: LogGroupRecord, stream: str, start: int | None, end: int | None,
                   start_from_head: bool, limit: int | None, next_token: str | None) -> LogEventsPage:
        answer = self.client.call("log_events", group=group.name, stream=stream, start=start, end=end,
                                  start_from_head=start_from_head, limit=limit, next_token=next_token)
        # Built directly rather than by from_data: a page holds up to 10,000 events.
        return LogEventsPage([LogEvent(item["timestamp"], item["message"]) for item in answer["events"]],
                             answer["next_forward_token"], answer["next_backward_token"])

    def diagnostics(self, name: str, region: str | None):
        from paracluster.diagnose.facts import ClusterFacts

        return from_data(ClusterFacts, self.client.call("diagnostics", name=name, region=region))


class LocalKeyPairs:
    """Key pairs kept in the state directory (the private key of one made here stays there, mode 0600)."""

    def __init__(self, state: Path):
        self.state = state

    def create(self, name: str) -> dict:
        return keypairs.create(self.state, name).describe()

    def import_public_key(self, name: str, public_key: str) -> dict:
        return keypairs.import_public_key(self.state, name, public_key).describe()

    def describe(self) -> list[dict]:
        return [pair.describe() for pair in keypairs.list_pairs(self.state)]

    def delete(self, name: str) -> None:
        keypairs.delete(self.state, name)


class LocalBuckets:
    """Buckets as directories of the state directory."""

    def __init__(self, state: Path):
        self.state = state

    def put(self, source: Path, url: str) -> list[str]:
        return buckets.put(self.state, source, url)

    def get(self, url: str, destination: Path) -> str:
        return str(buckets.get(self.state, url, destination))

    def list(self, url: str | None) -> list[dict]:
        return buckets.list_objects(self.state, url)

    def remove(self, url: str) -> list[str]:
        return buckets.remove(self.state, url)


class LocalSecrets:
    """Secrets kept in the state directory (0700/0600); values are never listed."""

    def __init__(self, state: Path):
        self.state = state

    def check_arn(self, arn: str) -> None:
        secrets.check_arn(arn)

    def put(self, arn: str, value: bytes) -> None:
        secrets.put(self.state, arn, value)

    def list_arns(self) -> list[str]:
        return secrets.list_arns(self.state)

    def delete(self, arn: str) -> None:
        secrets.delete(self.state, arn)


class LocalServices:
    """The local stand-ins for the AWS services that configs name."""

    def __init__(self, settings, client: ServiceClient):
        state = settings.state_path
        self.state = state
        self.client = client
        self.key_pairs = LocalKeyPairs(state)
        self.buckets = LocalBuckets(state)
        self.secrets = LocalSecrets(state)

    def storage(self, action: str, **request) -> dict:
        """File systems, volumes, file caches and snapshots that configs name by id: list, create, delete."""
        from paracluster.providers.local.standins.storage_registry import Registry, public

        registry = Registry(self.state)
        if action == "list":
            return {"storage": [public(entry) for entry in registry.entries()]}
        with registry.locked():
            if action == "delete":
                return {"deleted": public(registry.delete(request["storage_id"]))}
            if action == "create-volume" and request["storage_type"] == "Ebs":
                entry = registry.create_volume(request.get("size") or 1, name=request.get("name"),
                                               storage_id=request.get("storage_id"))
            elif action in ("create-volume", "create-file-system"):
                entry = registry.create_file_system(request["storage_type"], name=request.get("name"),
                                                    storage_id=request.get("storage_id"))
            else:
                raise BadRequestError(f"storage action '{action}' is unknown")
        return {"created": public(entry)}

    def accounting(self, action: str, **request) -> dict:
        """Accounting databases and standalone slurmdbds (requests of the host service)."""
        actions = {"list_databases", "delete_database", "create_slurmdbd", "list_slurmdbds", "delete_slurmdbd"}
        if action not in actions:
            raise BadRequestError(f"accounting action '{action}' is unknown")
        return self.client.call(action, **request)
