"""The aws provider: ParallelCluster's verbs on AWS, through one CloudFormation stack per cluster.

create-cluster runs the AWS validators, resolves what the template needs (VPC, zones, AMIs), builds the template,
puts the config (and a large template) in the cluster bucket and starts creating the stack; describe-cluster then
follows the stack. delete-cluster stops the compute fleet, terminates the compute instances (they are not stack
resources: the head node launches them) and waits for that, removes the cluster's files and deletes the stack,
whose storage stays or goes by DeletionPolicy. Nodes booting into a Slurm cluster on EC2 is part 2.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

from paracluster import __version__
from paracluster.errors import (
    BadRequestError, ClusterError, ConfigValidationError, ConflictError, NotAvailableError, NotFoundError,
)
from paracluster.providers.aws import deploy, describe, events, fleet_status, logs
from paracluster.providers.aws.image_operations import AwsImageOperations
from paracluster.providers.aws.lookups import Lookups, template_facts
from paracluster.providers.aws.naming import CONFIG_FILE, TEMPLATE_FILE, cluster_prefix
from paracluster.providers.aws.services import AwsServices
from paracluster.providers.aws.session import AwsSession
from paracluster.providers.base import InstanceListing, NodeCountSample, SlurmStatus, SshTarget
from paracluster.records import ClusterRecord, FleetStatusRecord, StackEvent, UpdateOutcome

# A ParaCluster setting listing extra TCP ports per login pool ({pool: [ports]}), from the Node fidelity work;
# without it, login pools serve port 22 only.
EXTRA_LOGIN_PORTS_SETTING = "login_extra_ports"
TERMINATE_TIMEOUT = 600.0  # seconds delete-cluster waits for compute instances to terminate
TERMINATE_POLL = 5.0

_SESSIONS: dict[tuple, AwsSession] = {}
_SESSIONS_LOCK = threading.Lock()
_LAST_DESCRIBE: dict[tuple[str, str], float] = {}


def session_for(region: str | None) -> AwsSession:
    """The process's session for a region (clients cost botocore a model load each, so they are kept)."""
    key = (region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
           os.environ.get("AWS_ENDPOINT_URL"), os.environ.get("AWS_PROFILE"))
    with _SESSIONS_LOCK:
        if key not in _SESSIONS:
            _SESSIONS[key] = AwsSession(region)
        return _SESSIONS[key]


def reset_sessions() -> None:
    with _SESSIONS_LOCK:
        _SESSIONS.clear()
    _LAST_DESCRIBE.clear()


class AwsProvider(AwsImageOperations):
    """Cluster operations on AWS. Each call is a few AWS requests; long operations are CloudFormation's."""

    name = "aws"
    # describe-cluster is polled by `--wait` every fraction of a second; AWS throttles callers that ask that often,
    # so describes of one cluster are paced to this many seconds apart.
    describe_interval = 2.0
    terminate_timeout = TERMINATE_TIMEOUT

    def __init__(self, settings):
        self.settings = settings
        self.services = AwsServices(lambda: session_for(None))
        self._prepared: dict[tuple[str, str], tuple] = {}  # (name, region) -> (template, facts) of a validated config

    # --- validation and the template ----------------------------------------------------------------------------

    def check_config(self, config, updating: str | None = None) -> None:
        """Refuse what the aws provider cannot run yet (the AWS validators run in create_cluster, per region)."""
        if config.scheduling.scheduler == "awsbatch":
            raise BadRequestError(
                f"{config.scheduling.where('Scheduler')}: the aws provider runs Slurm clusters; AWS Batch clusters "
                "are not supported yet, use Scheduler: slurm"
            )

    def validate_cluster(self, name: str, config, region: str | None, suppress=()) -> list:
        """The AWS validators' findings for this config; when none is an error, the template is built too (a dry run
        shows that it builds) and kept for a create_cluster of the same name and region by this provider."""
        from paracluster.config.validate.core import Level
        from paracluster.plan import build_plan
        from paracluster.providers.aws.validate import AwsContext, run_aws_validators

        self.check_config(config)
        session = session_for(region or config.region)
        lookups = Lookups(session)
        plan = build_plan(name, config)
        findings = run_aws_validators(AwsContext(config, plan.catalog, lookups, name), suppress)
        if not any(finding.level >= Level.ERROR for finding in findings):
            self._prepared[(name, session.region)] = self._template(config, plan, lookups)
        return findings

    def _template(self, config, plan, lookups: Lookups):
        from paracluster.providers.aws.template import build_template

        facts = template_facts(lookups, config, plan, __version__, self._extra_login_ports())
        return build_template(config, plan, facts), facts

    def _extra_login_ports(self) -> dict[str, tuple[int, ...]]:
        values = self.settings.as_dict().get(EXTRA_LOGIN_PORTS_SETTING) or {}
        return {pool: tuple(int(port) for port in ports) for pool, ports in dict(values).items()}

    # --- verbs --------------------------------------------------------------------------------------------------

    def create_cluster(self, name: str, config_text: str, region: str, rollback_on_failure: bool) -> ClusterRecord:
        from paracluster.config.load import load_config_text
        from paracluster.config.schema import CLUSTER
        from paracluster.providers.aws.template import TEMPLATE_BODY_LIMIT, template_body

        loaded = load_config_text(CLUSTER, config_text)
        if loaded.config is None:
            raise BadRequestError(f"failed to create cluster '{name}': the configuration does not load: "
                                  f"{loaded.problems[0]}")
        config = loaded.config
        session = session_for(region or config.region)
        if (name, session.region) not in self._prepared:
            findings = self.validate_cluster(name, config, session.region)
            if (name, session.region) not in self._prepared:  # an ERROR finding stopped it
                raise ConfigValidationError("Invalid cluster configuration.", [item.to_json() for item in findings])
        template, facts = self._prepared.pop((name, session.region))
        if deploy.describe_stack(session, name) is not None:
            raise ConflictError(f"cluster '{name}' already exists in {session.region}; choose another name or "
                                f"delete it with `paracluster delete-cluster -n {name} --provider aws`")
        body = template_body(template)
        prefix = cluster_prefix(name)
        deploy.ensure_bucket(session, facts.bucket, custom=bool(config.custom_s3_bucket))
        deploy.upload(session, facts.bucket, f"{prefix}/{CONFIG_FILE}", config_text.encode())
        url = None
        if len(body.encode()) > TEMPLATE_BODY_LIMIT:
            deploy.upload(session, facts.bucket, f"{prefix}/{TEMPLATE_FILE}", body.encode())
            url = deploy.object_url(session, facts.bucket, f"{prefix}/{TEMPLATE_FILE}")
        try:
            deploy.create_stack(session, name, body=None if url else body, url=url,
                                tags=deploy.stack_tags(config, name, facts.bucket, __version__),
                                rollback_on_failure=rollback_on_failure, token=f"paracluster-{uuid.uuid4()}")
        except ClusterError:
            deploy.remove_files(session, facts.bucket, prefix)
            raise
        stack = deploy.require_cluster_stack(session, name)
        return describe.summary(session, stack)

    def describe_cluster(self, name: str, region: str | None) -> ClusterRecord:
        session = session_for(region)
        self._pace(name, session.region)
        return describe.description(session, deploy.require_cluster_stack(session, name))

    def _pace(self, name: str, region: str) -> None:
        key = (name, region)
        wait = _LAST_DESCRIBE.get(key, 0.0) + self.describe_interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        _LAST_DESCRIBE[key] = time.monotonic()

    def list_clusters(self, region: str | None) -> list[ClusterRecord]:
        session = session_for(region)
        return [describe.summary(session, stack) for stack in deploy.list_cluster_stacks(session)]

    def cluster_instances(self, name: str, region: str | None) -> InstanceListing:
        session = session_for(region)
        deploy.require_cluster_stack(session, name)
        found = describe.cluster_instances(session, name)
        # Launch failures of compute nodes are the fleet's to record (part 2); part 1 reports none.
        return InstanceListing([describe.instance_record(instance) for instance in found], [])

    def delete_cluster(self, name: str, region: str | None) -> ClusterRecord:
        session = session_for(region)
        stack = deploy.require_cluster_stack(session, name)
        record = describe.summary(session, stack)
        if record.stack_status == "DELETE_IN_PROGRESS":
            return record
        if record.status not in ("CREATE_IN_PROGRESS", "CREATE_FAILED"):
            try:
                fleet_status.request(session, name, "STOP_REQUESTED")  # the head node launches no more nodes
            except ClusterError:
                pass  # already stopping or stopped, or no table: the instances are terminated below anyway
        self._terminate_compute_instances(session, name)
        bucket = deploy.tags(stack).get(deploy.TAG_BUCKET)
        if bucket:
            deploy.remove_files(session, bucket, cluster_prefix(name))
        deploy.delete_stack(session, name, stack["StackId"])
        record.stack_status = record.status = "DELETE_IN_PROGRESS"
        _LAST_DESCRIBE.pop((name, session.region), None)
        return record

    def _terminate_compute_instances(self, session, name: str) -> None:
        """Terminate the compute instances (not stack resources) and wait until EC2 says they are gone: their
        network interfaces would otherwise keep the stack's security groups from being deleted."""
        found = describe.cluster_instances(session, name, "Compute")
        if not found:
            return
        ids = [instance["InstanceId"] for instance in found]
        for start in range(0, len(ids), 1000):
            session.call(f"terminate the compute instances of cluster '{name}'", "ec2", "terminate_instances",
                         InstanceIds=ids[start:start + 1000])
        deadline = time.monotonic() + self.terminate_timeout
        while describe.cluster_instances(session, name, "Compute", states=["pending", "running", "stopping",
                                                                            "stopped", "shutting-down"]):
            if time.monotonic() > deadline:
                raise ClusterError(f"failed to delete cluster '{name}': its compute instances did not terminate "
                                   f"within {self.terminate_timeout:.0f} s; run delete-cluster again")
            time.sleep(TERMINATE_POLL)

    def compute_fleet(self, name: str, region: str | None) -> FleetStatusRecord:
        session = session_for(region)
        deploy.require_cluster_stack(session, name)
        return fleet_status.read(session, name)

    def update_compute_fleet(self, name: str, region: str | None, status: str) -> FleetStatusRecord:
        session = session_for(region)
        record = describe.summary(session, deploy.require_cluster_stack(session, name))
        if record.status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_FAILED"):
            raise ClusterError(f"cluster '{name}' is {record.status}; the compute fleet can be stopped or started "
                               "once the cluster is created")
        return fleet_status.request(session, name, status)

    def ssh_target(self, name: str, region: str | None, login_pool: str | None) -> SshTarget:
        """The head node's public address when it has one, else its private one; or a login pool's balancer."""
        session = session_for(region)
        stack = deploy.require_cluster_stack(session, name)
        outputs = deploy.outputs(stack)
        user = outputs.get("DefaultUser") or "ec2-user"
        if login_pool is not None:
            pools = describe.login_pools(session, outputs)
            pool = next((pool for pool in pools if pool.name == login_pool), None)
            if pool is None:
                names = ", ".join(sorted(pool.name for pool in pools)) or "none"
                raise NotFoundError(f"cluster '{name}' has no login pool '{login_pool}' (its pools: {names})")
            return SshTarget(user=user, address=pool.address, port=pool.port)
        heads = describe.cluster_instances(session, name, "HeadNode", states=["running"])
        if not heads:
            raise ClusterError(f"the head node of cluster '{name}' is not running (stack {stack['StackStatus']})")
        head = heads[0]
        return SshTarget(user=user, address=head.get("PublicIpAddress") or head["PrivateIpAddress"])

    def slurm_token(self, name: str, region: str | None, user: str | None, lifespan: int | None) -> dict:
        raise NotAvailableError("tokens for slurmrestd come from the head node's Slurm, which the aws provider "
                                "starts from its part 2 on; use --provider local")

    def stack_events(self, name: str, region: str | None, next_token: str | None) -> tuple[list[StackEvent],
                                                                                       str | None]:
        """One page of the stack's events, newest first, and CloudFormation's token of the next one."""
        session = session_for(region)
        stack = deploy.require_cluster_stack(session, name)
        params = {"StackName": stack["StackId"], **({"NextToken": next_token} if next_token else {})}
        page = session.call(f"read the stack events of cluster '{name}'", "cloudformation", "describe_stack_events",
                            **params)
        return [events.event_record(event) for event in page.get("StackEvents", [])], page.get("NextToken")

    def delete_cluster_instances(self, name: str, region: str | None) -> None:
        session = session_for(region)
        deploy.require_cluster_stack(session, name)
        self._terminate_compute_instances(session, name)

    def update_cluster(self, name: str, region: str | None, config_text: str, force: bool,
                       dryrun: bool) -> UpdateOutcome:
        raise NotAvailableError("update-cluster is not available on the aws provider yet (it needs the stack update "
                                "of a later part); use --provider local, or delete and create the cluster")

    def slurm_status(self, name: str, region: str | None) -> SlurmStatus:
        raise NotAvailableError("Slurm's view of a cluster on aws needs its head node's Slurm, which the aws "
                                "provider starts from its part 2 on; use --provider local")

    def node_count_history(self, name: str, region: str | None) -> list[NodeCountSample]:
        return []  # the aws provider keeps no samples of node counts yet: an empty history, not an error

    def dcv_connect(self, name: str, region: str | None) -> dict:
        raise NotAvailableError(f"cluster '{name}' has no DCV server: the aws provider does not install NICE DCV on "
                                "head nodes yet; use `paracluster ssh` instead")

    # --- cluster logs (providers/aws/logs.py) and diagnosis -----------------------------------------------------

    def cluster_log_group(self, name: str, region: str | None):
        return logs.cluster_log_group(session_for(region), name)

    def log_groups(self, region: str | None) -> list:
        return logs.log_groups(session_for(region))

    def delete_log_group(self, group: str, region: str | None) -> None:
        logs.delete_log_group(session_for(region), group)

    def log_streams(self, group, prefix: str | None, next_token: str | None):
        return logs.log_streams(session_for(group.region), group.name, prefix, next_token)

    def log_events(self, group, stream: str, start, end, start_from_head: bool, limit, next_token):
        return logs.log_events(session_for(group.region), group.name, stream, start, end, start_from_head, limit,
                               next_token)

    def diagnostics(self, name: str, region: str | None):
        raise NotAvailableError("diagnose runs its checks on the cluster's nodes, whose Slurm the aws provider "
                                "starts from its part 2 on; use --provider local")
