"""The node spec per role, shared by every provider: accounts, directories, files, services, and what scripts find.

A spec is JSON-ready data that the node agent (`paracluster.node.agent`) carries out in ParallelCluster's phases.
Providers add how the node is made (root layers, mounts, where custom action scripts come from); the content here
is the same wherever the node runs.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from paracluster.plan.identity import node_hostname
from paracluster.plan.inventory import PlannedNode

SLURM_CONF_DIR = "/opt/slurm/etc"
SLURM_LOG_DIR = "/var/log/slurm"  # slurmctld, slurmd and slurmdbd log files (the CloudWatch agent config lists them)
SCRIPTS_DIR = f"{SLURM_CONF_DIR}/pcluster/scripts"  # ParallelCluster keeps its Slurm programs beside the config
SSHD_CONFIG = "/etc/paracluster/sshd_config"
HOST_KEY = "/etc/paracluster/ssh_host_ed25519_key"
JWT_KEY = "/var/spool/slurm.state/jwt_hs256.key"  # in the state save location, as Slurm's docs place it
SLURMCTLD_PORT = 6817  # the renderer's SlurmctldPort
SLURMRESTD_PORT = 6820
SLURMDBD_PORT = 6819

# ParallelCluster's node_type values in cfnconfig and dna.json.
CFN_NODE_TYPES = {"HeadNode": "HeadNode", "ComputeNode": "ComputeFleet", "LoginNode": "LoginNode"}


@dataclass(frozen=True)
class Account:
    """A user the nodes need; `host` when the node's base image has it already (nothing to add)."""

    name: str
    uid: int
    gid: int
    host: bool = False


@dataclass(frozen=True)
class ClusterFacts:
    """What the specs need beyond the configuration: decided when the cluster is created, kept by the provider."""

    name: str
    region: str
    stack_arn: str
    head_name: str
    head_address: str
    default_user: Account
    rest_user: Account
    slurmrestd: bool
    node_python: str
    node_pythonpath: str
    ebs_volume_ids: tuple[str, ...] = ()
    keep_failed_nodes: bool = False
    log_group_name: str | None = None  # the cluster's CloudWatch log group; None when its logging is disabled
    # Files the provider gives every node (locally: the AWS CLI and SDK settings that reach its stand-ins).
    extra_files: tuple[dict, ...] = ()


@dataclass(frozen=True)
class NodeKeys:
    """Key material a node receives: the cluster's SSH host key, and the head node's JWT key."""

    ssh_host_key: str
    jwt_key: bytes | None = None


# slurmd's command line on compute nodes. -b reports the node's boot as slurmd's start: Slurm 22.05 accepts a resumed
# node only if its boot time (registration time minus reported uptime, whole seconds) is not before the resume
# request's second, and with -b a slurmd started after the resume always passes, without waiting for the next second.
# (-b reports 0 s of uptime while the node's own uptime is under 1 s, i.e. while the node's time namespace is young.)
SLURMD_ARGV = ["/usr/sbin/slurmd", "-D", "-b"]


def default_user_name(config) -> str:
    """ParallelCluster's default user of the config's OS (constants.OS_MAPPING)."""
    from paracluster.config.schema.cluster import DEFAULT_USER_BY_OS

    return DEFAULT_USER_BY_OS.get(config.image.os, "ec2-user")


def node_spec(config, catalog, facts: ClusterFacts, node: PlannedNode, address: str, keys: NodeKeys) -> dict:
    """The spec of one node: accounts, directories, files, services in start order, environment."""
    accounts = _accounts([facts.default_user], home=True)
    dirs = [
        {"path": "/var/log/parallelcluster", "mode": 0o755, "owner": "slurm"},
        {"path": "/run/munge", "mode": 0o755, "owner": "munge"},
        {"path": "/run/slurm", "mode": 0o755, "owner": "slurm"},
        {"path": "/var/spool/slurm.state", "mode": 0o755, "owner": "slurm"},
        {"path": "/var/spool/slurmd", "mode": 0o755, "owner": "root"},
        {"path": "/var/log/slurm", "mode": 0o755, "owner": "slurm"},
    ]
    hostname = node_hostname(config, facts.name, facts.region, node, address).short
    files = [
        {"path": "/etc/hostname", "content": f"{hostname}\n"},
        # As cloud-init writes it on every AMI: the default user may use sudo without a password.
        {"path": "/etc/sudoers.d/90-cloud-init-users", "mode": 0o440,
         "content": f"# User rules for {facts.default_user.name}\n{facts.default_user.name} ALL=(ALL) NOPASSWD:ALL\n"},
        # ParallelCluster puts Slurm's commands on every login shell's PATH.
        {"path": "/etc/profile.d/slurm.sh", "content": 'PATH="$PATH:/opt/slurm/bin"\n'},
        *facts.extra_files,
    ]
    munged = {"name": "munged", "argv": ["/usr/sbin/munged", "--foreground"], "user": "munge",
              "ready": "/run/munge/munge.socket.2"}
    sshd = {"name": "sshd", "argv": ["/usr/sbin/sshd", "-D", "-e", "-f", SSHD_CONFIG]}
    if node.node_type == "LoginNode":
        # Login nodes: munge and the Slurm client commands, a real sshd; no slurmd and no cluster manager.
        dirs.append({"path": "/run/sshd", "mode": 0o755, "owner": "root"})
        files += _sshd_files(address, keys)
        services = [munged, sshd]
    elif node.node_type == "HeadNode":
        dirs.append({"path": "/run/sshd", "mode": 0o755, "owner": "root"})
        files += _sshd_files(address, keys)
        files.append({"path": JWT_KEY, "content_b64": base64.b64encode(keys.jwt_key or b"").decode(), "mode": 0o600,
                      "owner": "slurm"})
        for database, lines in _accounts([facts.rest_user], home=False).items():
            accounts.setdefault(database, []).extend(lines)
        before, after = _accounting_services(config, facts)
        services = [
            munged,
            *before,
            # Ready once it answers on its port: `systemctl restart slurmctld` then returns when `scontrol` works, as
            # with the notify-type unit of the Slurm that ParallelCluster builds.
            {"name": "slurmctld", "argv": ["/usr/sbin/slurmctld", "-D"],
             "ready": f"tcp:{facts.head_address}:{SLURMCTLD_PORT}"},
            *after,
            sshd,
            {"name": "clustermgtd", "argv": [facts.node_python, "-m", "paracluster.daemon.loop"],
             "env": {"PYTHONPATH": facts.node_pythonpath}, "phase": "finalize"},
        ]
    else:
        # slurmd starts in the finalize phase, after OnNodeConfigured: a node whose scripts fail never gets a job.
        # -N: the node's hostname is not its Slurm name with UseEc2Hostnames.
        services = [munged, {"name": "slurmd", "argv": [*SLURMD_ARGV, "-N", node.name], "phase": "finalize"}]
        if node.static:
            # As ParallelCluster's finalize: a static node resumes itself, so a replacement of a node that was
            # drained (an update's DRAIN) or set down comes back into service. An idle node refuses it: no matter.
            resume = f"scontrol update nodename={node.name} state=resume reason='Node start up' 2>/dev/null || true"
            services.append({"name": "node_start_up", "argv": ["/bin/sh", "-c", resume], "oneshot": True,
                             "phase": "finalize", "timeout": 30.0})
    spec = {
        "name": node.name,
        "cluster": facts.name,
        "hostname": hostname,
        "role": node.node_type,
        "node_type": node.node_type,
        "accounts": accounts,
        "dirs": dirs,
        "files": files,
        "services": services,
        "environment": node_environment(config, catalog, facts, node),
        "keep_failed": facts.keep_failed_nodes,
    }
    spec["files"] += _cloudwatch_files(config, facts, node, spec["hostname"])
    return spec


def _cloudwatch_files(config, facts: ClusterFacts, node: PlannedNode, hostname: str) -> list[dict]:
    """The CloudWatch agent's config and control command (their collection is the provider's)."""
    from paracluster.cwlogs.agent_config import node_files

    return node_files(config, CFN_NODE_TYPES[node.node_type], facts.log_group_name or "NONE", hostname,
                      facts.node_python, facts.node_pythonpath)


def _accounts(users: list[Account], home: bool) -> dict:
    """passwd/group/shadow lines for the users the node's base image lacks."""
    accounts: dict[str, list[str]] = {}
    for user in users:
        if user.host:
            continue
        if home:
            accounts.setdefault("passwd", []).append(
                f"{user.name}:x:{user.uid}:{user.gid}::/home/{user.name}:/bin/bash")
            accounts.setdefault("shadow", []).append(f"{user.name}:*:19000:0:99999:7:::")
        else:
            accounts.setdefault("passwd", []).append(
                f"{user.name}:x:{user.uid}:{user.gid}:{user.name}:/nonexistent:/usr/sbin/nologin")
        accounts.setdefault("group", []).append(f"{user.name}:x:{user.gid}:")
    return accounts


def _accounting_services(config, facts: ClusterFacts) -> tuple[list[dict], list[dict]]:
    """The head node's services before slurmctld (slurmdbd and its bootstrap) and after it (slurmrestd)."""
    settings = config.scheduling.slurm_settings
    accounting = settings.database.present or settings.external_slurmdbd.present
    before = []
    if settings.database.present:
        before = [
            {"name": "slurmdbd", "argv": ["/usr/sbin/slurmdbd", "-D"], "timeout": 120.0,
             "ready": f"tcp:{facts.head_address}:{SLURMDBD_PORT}"},
            {"name": "accounting_bootstrap", "argv": [f"{SCRIPTS_DIR}/accounting_bootstrap"],
             "oneshot": True, "timeout": 60.0},
        ]
    after = []
    if accounting:
        # slurmdbd pushes association changes (a user added by an OnNodeConfigured script, say) only to a
        # slurmctld that has registered its address; until then they would miss its cache and jobs would run with
        # no account. So the configure phase ends only once slurmctld is registered.
        wait = (f"until sacctmgr -n -P show cluster {facts.name} format=controlhost | grep -q .; "
                "do sleep 0.2; done")
        after.append({"name": "accounting_registered", "argv": ["/bin/sh", "-c", wait], "oneshot": True,
                      "timeout": 60.0})
    if facts.slurmrestd:
        plugins = "openapi/v0.0.38" + (",openapi/dbv0.0.38" if accounting else "")
        after.append({
            "name": "slurmrestd",
            "argv": ["/usr/sbin/slurmrestd", "-a", "rest_auth/jwt", "-s", plugins,
                     f"{facts.head_address}:{SLURMRESTD_PORT}"],
            "user": facts.rest_user.name,
            "env": {"SLURM_JWT": "daemon"},
            "ready": f"tcp:{facts.head_address}:{SLURMRESTD_PORT}",
        })
    return before, after


def node_environment(config, catalog, facts: ClusterFacts, node: PlannedNode) -> dict:
    """What ParallelCluster's scripts find on a node: cfnconfig variables, dna.json keys, the Slurm node name."""
    from paracluster.plan.actions import owner_of

    node_type = CFN_NODE_TYPES[node.node_type]
    info = catalog.get(node.instance_type)
    slots = info.vcpus if info else 1
    owner = owner_of(config, node)
    local_storage = {"HeadNode": lambda: owner.local_storage,
                     "ComputeNode": lambda: owner.compute_settings.local_storage}.get(node.node_type)
    ephemeral_dir = local_storage().ephemeral_volume.mount_dir if local_storage else "/scratch"
    ebs_dirs = ",".join(storage.mount_dir for storage in config.shared_storage if storage.storage_type == "Ebs")
    cfnconfig = {
        "stack_name": facts.name,
        "cfn_region": facts.region,
        "cfn_scheduler": config.scheduling.scheduler,
        "cfn_scheduler_slots": "vcpus",
        "cfn_instance_slots": slots,
        "cfn_ephemeral_dir": ephemeral_dir,
        "cfn_ebs_shared_dirs": ebs_dirs or "NONE",
        "cfn_proxy": "NONE",
        "cfn_node_type": node_type,
        "cfn_cluster_user": facts.default_user.name,
    }
    # As ParallelCluster's cfnconfig: the commands that run each event's scripts (the scripts' own environment
    # has their URLs and args instead).
    for flag, variable in (("preinstall", "cfn_preinstall"), ("postinstall", "cfn_postinstall"),
                           ("postupdate", "cfn_postupdate")):
        cfnconfig[variable] = f"/opt/parallelcluster/scripts/fetch_and_run --execute-via-cfnconfig -{flag}"
        cfnconfig[f"{variable}_args"] = []
    dna = {
        "stack_name": facts.name, "cluster_name": facts.name, "base_os": config.image.os,
        "region": facts.region, "scheduler": config.scheduling.scheduler, "node_type": node_type,
        "cluster_user": facts.default_user.name, "default_user_home": "Shared", "ephemeral_dir": ephemeral_dir,
        "stack_arn": facts.stack_arn,
        "head_node_private_ip": facts.head_address, "ebs_shared_dirs": ebs_dirs,
        "cw_logging_enabled": "true" if facts.log_group_name else "false",
        "log_group_name": facts.log_group_name or "NONE",
    }
    error_info = {"node_type": node.node_type, "name": node.name}
    if node.node_type == "ComputeNode":
        cfnconfig.update(cfn_head_node=facts.head_name, cfn_head_node_private_ip=facts.head_address,
                         cfn_scheduler_queue_name=node.queue)
        dna.update(scheduler_queue_name=node.queue, scheduler_compute_resource_name=node.compute_resource)
        error_info.update(queue_name=node.queue, compute_resource=node.compute_resource,
                          node_spec="static" if node.static else "dynamic", instance_type=node.instance_type)
    elif node.node_type == "HeadNode":
        cfnconfig["cfn_volume"] = ",".join(facts.ebs_volume_ids) or "NONE"
    elif node.node_type == "LoginNode":
        dna["pool_name"] = node.pool
        error_info["pool_name"] = node.pool
    return {"cfnconfig": cfnconfig, "dna": dna, "error_info": error_info,
            "slurm_nodename": node.name if node.node_type == "ComputeNode" else None}


def _sshd_files(address: str, keys: NodeKeys) -> list[dict]:
    config = "\n".join([
        f"ListenAddress {address}",
        f"HostKey {HOST_KEY}",
        "PermitRootLogin no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "AuthorizedKeysFile .ssh/authorized_keys",
        "UsePAM no",
        "PrintMotd no",
        "AcceptEnv LANG LC_*",
        "Subsystem sftp internal-sftp",
        "PidFile /run/sshd.pid",
        "",
    ])
    return [
        {"path": SSHD_CONFIG, "content": config, "mode": 0o644},
        {"path": HOST_KEY, "content": keys.ssh_host_key, "mode": 0o600},
    ]
