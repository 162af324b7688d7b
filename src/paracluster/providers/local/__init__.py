"""The local provider: clusters whose nodes are Linux namespaces on this machine, run by a host service."""

from __future__ import annotations

from paracluster.errors import BadRequestError
from paracluster.providers.local.client import ServiceClient


class LocalProvider:
    """Cluster operations of the local provider; each is one request to the host service."""

    name = "local"

    def __init__(self, settings):
        self.settings = settings
        self.client = ServiceClient(settings)

    def check_config(self, config) -> None:
        """Refuse what the local provider cannot run, with one sentence."""
        if config.scheduling.scheduler == "awsbatch":
            raise BadRequestError(
                "Scheduling/Scheduler: awsbatch clusters run on AWS Batch, which the local provider does not have; "
                "use Scheduler: slurm or --provider aws"
            )
        from paracluster.providers.local.storage import check_existing

        check_existing(config, self.settings.state_path)

    def create_cluster(self, name: str, config_text: str, region: str | None, rollback_on_failure: bool) -> dict:
        return self.client.call("create_cluster", name=name, config_text=config_text, region=region,
                                rollback_on_failure=rollback_on_failure)

    def delete_cluster(self, name: str) -> dict:
        return self.client.call("delete_cluster", name=name)

    def describe_cluster(self, name: str) -> dict:
        return self.client.call("describe_cluster", name=name)

    def list_clusters(self, statuses: list[str] | None = None) -> dict:
        return self.client.call("list_clusters", statuses=statuses)

    def describe_cluster_instances(self, name: str, node_type: str | None, queue: str | None) -> dict:
        return self.client.call("describe_cluster_instances", name=name, node_type=node_type, queue=queue)

    def ssh_target(self, name: str, login_pool: str | None = None) -> dict:
        """User, address and known hosts of the head node (or of a login pool's load balancer), and the private key
        file when ParaCluster holds it."""
        from paracluster.errors import ClusterError
        from paracluster.providers.local import keypairs

        target = self.client.call("ssh_target", name=name, login_pool=login_pool)
        if not target.get("keyName"):
            raise ClusterError(
                f"cluster '{name}' has no key pair (HeadNode/Ssh/KeyName is not set), so nobody can log in with "
                "ssh; set KeyName in the configuration of a new cluster"
            )
        pair = keypairs.get(self.settings.state_path, target["keyName"])
        if pair.private_key_path:
            target["identityFile"] = str(pair.private_key_path)
        return target

    def describe_compute_fleet(self, name: str) -> dict:
        return self.client.call("describe_compute_fleet", name=name)

    def update_compute_fleet(self, name: str, status: str) -> dict:
        return self.client.call("update_compute_fleet", name=name, status=status)
